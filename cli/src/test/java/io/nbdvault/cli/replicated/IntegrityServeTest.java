package io.nbdvault.cli.replicated;

import com.fasterxml.jackson.databind.JsonNode;
import io.nbdvault.cli.NbdvaultProcess;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.nbdvault.cli.replicated.ReplicatedServeTest.admin;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.cli;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.readPrefix;
import static io.nbdvault.cli.replicated.ReplicatedServeTest.status;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bytes of replicas altered behind nbdvault's back — in the image files under running nbdkit
 * replicas, and in file members of a stopped array — never reach a client: reads verify every
 * block, scrub finds each bad block on its member and repairs it from a copy that verifies, a block
 * altered on every copy gives EIO, and each member still opens alone with cryptsetup.
 */
@Timeout(300)
class IntegrityServeTest {
    static final long MIB = 1 << 20;
    /** Plaintext byte 0 is byte 16 MiB of each member (after the LUKS2 header). */
    static final long PAYLOAD = 16 * MIB;

    @TempDir
    Path dir;
    NbdkitReplicas replicas;

    @AfterEach
    void stop() throws Exception {
        if (replicas != null) {
            replicas.close();
        }
    }

    NbdvaultProcess serve(Path key, Path nbdSocket, List<String> members) throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "3000"));
        args.addAll(members);
        return NbdvaultProcess.start(dir, args.toArray(String[]::new)).awaitSocket(nbdSocket, Duration.ofSeconds(60));
    }

    static void xorByte(Path image, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x41);
        }
    }

    static Proc.Result qemuIo(String volume, String command) {
        return Proc.run(60, ExternalTool.require("qemu-io"), "-f", "raw", "-c", command, volume);
    }

    static long member(JsonNode status, String name, String field) {
        for (JsonNode m : status.path("members")) {
            if (m.path("name").asText().equals(name)) {
                return m.path(field).asLong();
            }
        }
        throw new AssertionError(name + " not in " + status.toPrettyString());
    }

    /** `create` of a 64 MiB volume over three file members (made by create), with {@code extra} options; returns them. */
    List<String> fileArray(Path key, String... extra) throws Exception {
        Files.writeString(key, "file passphrase");
        List<String> members = List.of(dir.resolve("a.img").toString(), dir.resolve("b.img").toString(),
                dir.resolve("c.img").toString());
        List<String> create = new ArrayList<>(List.of("create", "--size", "64M", "--key-file", key.toString()));
        create.addAll(List.of(extra));
        create.addAll(List.of(NbdkitReplicas.CHEAP_KDF));
        create.addAll(members);
        cli(create.toArray(String[]::new));
        return members;
    }

    @Test
    void bytesAlteredUnderRunningReplicasNeverReachTheClientAndScrubRepairsThem() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = dir.resolve("key");
        Files.writeString(key, "integrity passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            for (int i = 1; i <= 16; i++) {
                qemuIo(volume, "write -P " + i + " " + i + "M 1M").assertOk();
            }
            qemuIo(volume, "flush").assertOk();
            // Behind the array's back, under the running nbdkits: 24 random bytes of replica 1,
            // 6 of replica 2 (other blocks), and one block altered alike on all three.
            Random random = new Random(7);
            for (int n = 0; n < 24; n++) {
                xorByte(replicas.image(1), PAYLOAD + MIB + random.nextInt((int) (8 * MIB)));
            }
            for (int n = 0; n < 6; n++) {
                xorByte(replicas.image(2), PAYLOAD + 9 * MIB + random.nextInt((int) (7 * MIB)));
            }
            long everywhere = PAYLOAD + 16 * MIB + 4096;
            for (int r = 0; r < 3; r++) {
                xorByte(replicas.image(r), everywhere);
            }
            for (int round = 0; round < 3; round++) {
                for (int i = 1; i <= 15; i++) {
                    qemuIo(volume, "read -P " + i + " " + i + "M 1M").assertOk();
                }
            }
            assertNotEquals(0, qemuIo(volume, "read -P 16 16M 1M").exitCode(),
                    "a block no copy vouches for is an error, never the altered bytes");
            qemuIo(volume, "read -P 16 " + (16 * MIB + 8192) + " 4096").assertOk();

            String found = cli("scrub", "--admin-socket", admin(nbdSocket)).trim();
            assertNotEquals("mismatches: 0", found, "scrub sees what reads have not repaired yet");
            cli("scrub", "--repair", "--admin-socket", admin(nbdSocket));
            assertEquals("mismatches: 1", cli("scrub", "--admin-socket", admin(nbdSocket)).trim(),
                    "only the block altered everywhere is left");
            JsonNode s = status(nbdSocket);
            assertTrue(member(s, replicas.uri(1), "corruptBlocks") >= 20, () -> s.toPrettyString() + server.stderr());
            assertTrue(member(s, replicas.uri(2), "corruptBlocks") >= 5, s.toPrettyString());
            assertTrue(member(s, replicas.uri(1), "repairedBlocks") >= 20, s.toPrettyString());
            assertEquals("active", s.path("state").asText().toLowerCase(), server::stderr);
            String text = cli("status", "--admin-socket", admin(nbdSocket));
            assertTrue(text.contains("Integrity  : pmac-aes256"), text);
            server.terminate(Duration.ofSeconds(60));
        }
        byte[] first = readPrefix(replicas.image(0), 80 * MIB);
        for (int r = 1; r < 3; r++) {
            assertTrue(java.util.Arrays.equals(first, readPrefix(replicas.image(r), 80 * MIB)), "replica " + r + " repaired");
        }
    }

    @Test
    void aVolumeCreatedWithoutTagsIsUpgradedItsFileMembersGrown() throws Exception {
        Path key = dir.resolve("key");
        List<String> members = fileArray(key, "--integrity", "none");
        Path nbdSocket = dir.resolve("vol.sock");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        try (NbdvaultProcess server = serve(key, nbdSocket, members)) {
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("Integrity  : none"));
            qemuIo(volume, "write -P 0x5e 3M 2M").assertOk();
            server.terminate(Duration.ofSeconds(60));
        }
        List<String> upgrade = new ArrayList<>(List.of("upgrade", "--integrity", "pmac-aes256", "--key-file", key.toString()));
        upgrade.addAll(members);
        long before = Files.size(Path.of(members.get(0)));
        cli(upgrade.toArray(String[]::new));
        assertEquals(before + 256 * 1024, Files.size(Path.of(members.get(0))), "grown by the tags of 64 MiB of 4 KiB blocks");
        assertNotEquals(0, io.nbdvault.cli.Main.run(upgrade.toArray(String[]::new)), "only once");
        xorByte(Path.of(members.get(1)), PAYLOAD + 4 * MIB + 9);
        try (NbdvaultProcess server = serve(key, nbdSocket, members)) {
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("Integrity  : pmac-aes256"));
            assertEquals("mismatches: 1", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            qemuIo(volume, "read -P 0x5e 3M 2M").assertOk();
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void fileMembersAlteredWhileStoppedAreReadRightAndEachStillOpensWithCryptsetup() throws Exception {
        Path key = dir.resolve("key");
        List<String> members = fileArray(key);
        Path nbdSocket = dir.resolve("vol.sock");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        try (NbdvaultProcess server = serve(key, nbdSocket, members)) {
            for (int i = 0; i < 8; i++) {
                qemuIo(volume, "write -P " + (0x30 + i) + " " + i + "M 1M").assertOk();
            }
            server.terminate(Duration.ofSeconds(60));
        }
        // Stopped: a byte of a.img flipped; on b.img one block copied over another (a valid block, in the wrong place).
        xorByte(Path.of(members.get(0)), PAYLOAD + 2 * MIB + 777);
        byte[] block = new byte[512];
        try (RandomAccessFile f = new RandomAccessFile(members.get(1), "rw")) {
            f.seek(PAYLOAD + 5 * MIB);
            f.readFully(block);
            f.seek(PAYLOAD + 6 * MIB);
            f.write(block);
        }
        try (NbdvaultProcess server = serve(key, nbdSocket, members)) {
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 8; i++) {
                    qemuIo(volume, "read -P " + (0x30 + i) + " " + i + "M 1M").assertOk();
                }
            }
            cli("scrub", "--repair", "--admin-socket", admin(nbdSocket));
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            JsonNode s = status(nbdSocket);
            assertEquals(1, member(s, members.get(0), "corruptBlocks"), s.toPrettyString());
            assertEquals(1, member(s, members.get(1), "corruptBlocks"), s.toPrettyString());
            assertEquals(0, member(s, members.get(2), "corruptBlocks"), s.toPrettyString());
            server.terminate(Duration.ofSeconds(60));
        }
        assertArrayEquals(readPrefix(Path.of(members.get(2)), 64 * MIB), readPrefix(Path.of(members.get(0)), 64 * MIB));
        assertArrayEquals(readPrefix(Path.of(members.get(2)), 64 * MIB), readPrefix(Path.of(members.get(1)), 64 * MIB));
        for (String m : members) {
            Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(), m)
                    .assertOk();
        }
    }
}
