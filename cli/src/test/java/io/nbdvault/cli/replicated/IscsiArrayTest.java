package io.nbdvault.cli.replicated;

import io.nbdvault.cli.FuseDisk;
import io.nbdvault.cli.Main;
import io.nbdvault.cli.NbdvaultProcess;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import io.nbdvault.transport.iscsi.Tgtd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.nbdvault.cli.replicated.ReplicatedServeTest.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Arrays whose members are iSCSI LUNs of a real tgtd: three iSCSI members (one behind CHAP, its
 * secret in a --replica-chap-file), and one iSCSI member mixed with two NBD ones. fio writes with
 * verification through the served volume; the members end up identical, LUKS opens on one, and
 * the CHAP secret appears nowhere: not in the output, the status, nor the members' metadata.
 */
@Timeout(300)
class IscsiArrayTest {
    static final long MIB = 1 << 20;
    static final String SECRET = "chapSecret4Iscsi";

    @TempDir
    Path dir;
    Tgtd tgtd;
    NbdkitReplicas replicas;

    @AfterEach
    void stop() throws Exception {
        if (replicas != null) {
            replicas.close();
        }
        if (tgtd != null) {
            tgtd.close();
        }
    }

    Path lun(int i) throws Exception {
        Path f = dir.resolve("lun-" + i + ".img");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(NbdkitReplicas.MEMBER_SIZE);
        }
        return f;
    }

    String iqn(int i) {
        return "iqn.2024-01.io.nbdvault.test:array" + i;
    }

    Path chapFile() throws Exception {
        Path f = dir.resolve("chap");
        Files.writeString(f, "# target user secret\n" + iqn(1) + " alice " + SECRET + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    void fioVerified(Path nbdSocket) throws Exception {
        List<String> fio = List.of(ExternalTool.require("fio"), "--name=iscsi", "--ioengine=nbd",
                "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k,64k", "--iodepth=16",
                "--size=32M", "--verify=crc32c", "--verify_fatal=1", "--randseed=7", "--verify_state_save=0");
        Proc.Result r = Proc.run(180, null, fio).assertOk();
        assertTrue(r.stdout().contains("err= 0"), r.stdout());
    }

    @Test
    void threeIscsiMembersOneBehindChap() throws Exception {
        tgtd = Tgtd.start(dir);
        List<Path> luns = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            luns.add(lun(i));
            tgtd.target(i, iqn(i), luns.get(i - 1), 512);
        }
        tgtd.account(1, "alice", SECRET, false);
        List<String> members = List.of("iscsi://alice@" + tgtd.portal() + "/" + iqn(1) + "/1",
                tgtd.uri(iqn(2), 1), tgtd.uri(iqn(3), 1));
        Path key = dir.resolve("key");
        Files.writeString(key, "iscsi array passphrase");
        Path chap = chapFile();
        List<String> create = new ArrayList<>(List.of("create", "--size", "80M", "--key-file", key.toString(),
                "--copies", "3", "--replica-chap-file", chap.toString()));
        create.addAll(List.of(NbdkitReplicas.CHEAP_KDF));
        create.addAll(members);
        assertEquals(0, Main.run(create.toArray(String[]::new)));

        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "3000", "--replica-chap-file", chap.toString()));
        serve.addAll(members);
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            fioVerified(nbdSocket);
            String status = cli("status", "--admin-socket", nbdSocket + ".admin");
            assertTrue(status.contains("iscsi://"), status);
            assertFalse(status.contains("degraded"), status);
            assertFalse(status.contains(SECRET), status);
            assertEquals("ACTIVE", ReplicatedServeTest.status(nbdSocket).path("state").asText(), "no member failed");
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
            assertFalse(server.stderr().contains(SECRET), server.stderr());
        }
        byte[] first = Files.readAllBytes(luns.get(0));
        for (Path lun : luns) {
            byte[] bytes = Files.readAllBytes(lun);
            assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOf(first, (int) (80 * MIB)),
                    java.util.Arrays.copyOf(bytes, (int) (80 * MIB))), lun + " equals the first member");
            assertFalse(new String(bytes, StandardCharsets.ISO_8859_1).contains(SECRET), "no secret in " + lun);
        }
        Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                luns.get(0).toString()).assertOk();
    }

    /**
     * tgtd killed under load for longer than the request timeout: the iSCSI member fails, the
     * volume carries on; restarted, it comes back from the bitmap.
     */
    @Test
    void killedTargetIsTakenBackFromTheBitmap() throws Exception {
        tgtd = Tgtd.start(dir);
        Path lun = lun(1);
        tgtd.target(1, iqn(1), lun, 512);
        replicas = new NbdkitReplicas(dir, 2, false).startAll();
        List<String> members = new ArrayList<>(List.of(tgtd.uri(iqn(1), 1)));
        members.addAll(replicas.uris(0, 1));
        Path key = dir.resolve("key");
        Files.writeString(key, "restart passphrase");
        replicas.createArray(key, members, "--copies", "3");
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "1500", "--bitmap-delay", "1"));
        serve.addAll(members);
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            List<String> fio = List.of(ExternalTool.require("fio"), "--name=restart", "--ioengine=nbd",
                    "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k", "--iodepth=16",
                    "--size=32M", "--rate=16m", "--verify=crc32c", "--verify_fatal=1", "--randseed=11",
                    "--verify_state_save=0");
            Process writer = new ProcessBuilder(fio).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("fio.log").toFile()).start();
            try {
                Thread.sleep(700);
                tgtd.kill();
                Thread.sleep(4000); // well past the 1500 ms request timeout: the member fails
                tgtd.restart();
                assertTrue(writer.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
                assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio.log")) + server.stderr());
            } finally {
                writer.destroyForcibly();
            }
            // The member failed and came back from the bitmap (a finished, partial resync in status).
            ReplicatedServeTest.awaitResyncs(nbdSocket, 1, true);
            Proc.run(120, null, List.of(ExternalTool.require("fio"), "--name=restart", "--ioengine=nbd",
                    "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k", "--iodepth=16",
                    "--size=32M", "--verify=crc32c", "--verify_fatal=1", "--randseed=11", "--verify_state_save=0",
                    "--do_verify=1", "--verify_only")).assertOk();
            String status = cli("status", "--admin-socket", nbdSocket + ".admin");
            assertFalse(status.contains("degraded"), status);
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
        byte[] iscsi = java.util.Arrays.copyOf(Files.readAllBytes(lun), (int) (80 * MIB));
        assertTrue(java.util.Arrays.equals(iscsi, java.util.Arrays.copyOf(Files.readAllBytes(replicas.image(0)),
                (int) (80 * MIB))), "the iSCSI member caught up with the NBD ones");
    }

    @Test
    void oneIscsiMemberMixedWithTwoNbdOnes() throws Exception {
        tgtd = Tgtd.start(dir);
        Path lun = lun(1);
        tgtd.target(1, iqn(1), lun, 4096);
        replicas = new NbdkitReplicas(dir, 2, false).startAll();
        List<String> members = new ArrayList<>(List.of(tgtd.uri(iqn(1), 1)));
        members.addAll(replicas.uris(0, 1));
        Path key = dir.resolve("key");
        Files.writeString(key, "mixed array passphrase");
        replicas.createArray(key, members, "--copies", "3");

        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "3000"));
        serve.addAll(members);
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            fioVerified(nbdSocket);
            String status = cli("status", "--admin-socket", nbdSocket + ".admin");
            assertFalse(status.contains("degraded"), status);
            assertEquals("ACTIVE", ReplicatedServeTest.status(nbdSocket).path("state").asText(), "no member failed");
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
        byte[] iscsi = java.util.Arrays.copyOf(Files.readAllBytes(lun), (int) (80 * MIB));
        for (int i = 0; i < 2; i++) {
            assertTrue(java.util.Arrays.equals(iscsi, java.util.Arrays.copyOf(Files.readAllBytes(replicas.image(i)),
                    (int) (80 * MIB))), "NBD replica " + i + " equals the iSCSI member");
        }
    }
    /**
     * tgtd killed under load and restarted within the request timeout: the commands wait for the new
     * session and are issued again, no member fails, and the data verifies.
     */
    @Test
    void targetRestartedWithinTheTimeoutFailsNoMember() throws Exception {
        tgtd = Tgtd.start(dir);
        Path lun = lun(1);
        tgtd.target(1, iqn(1), lun, 512);
        replicas = new NbdkitReplicas(dir, 2, false).startAll();
        List<String> members = new ArrayList<>(List.of(tgtd.uri(iqn(1), 1)));
        members.addAll(replicas.uris(0, 1));
        Path key = dir.resolve("key");
        Files.writeString(key, "waiting passphrase");
        replicas.createArray(key, members, "--copies", "3");
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "20000"));
        serve.addAll(members);
        List<String> fio = List.of(ExternalTool.require("fio"), "--name=wait", "--ioengine=nbd",
                "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k,64k", "--iodepth=16",
                "--size=32M", "--rate=16m", "--verify=crc32c", "--verify_fatal=1", "--randseed=13",
                "--verify_state_save=0");
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            Process writer = new ProcessBuilder(fio).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("fio.log").toFile()).start();
            try {
                Thread.sleep(700);
                tgtd.kill();
                Thread.sleep(1500);
                assertTrue(writer.isAlive(), "fio was still writing when tgtd came back");
                tgtd.restart();
                assertTrue(writer.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
                assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio.log")) + server.stderr());
            } finally {
                writer.destroyForcibly();
            }
            assertTrue(server.stderr().contains("re-established"), server.stderr());
            com.fasterxml.jackson.databind.JsonNode status = ReplicatedServeTest.status(nbdSocket);
            assertEquals("ACTIVE", status.path("state").asText(), status.toPrettyString());
            for (com.fasterxml.jackson.databind.JsonNode m : status.path("members")) {
                assertFalse(m.path("state").asText().contains("fail"), status.toPrettyString());
            }
            assertFalse(server.stderr().toLowerCase(java.util.Locale.ROOT).contains("failed member")
                    || server.stderr().contains("marked failed"), server.stderr());
            Proc.run(120, null, List.of(ExternalTool.require("fio"), "--name=wait", "--ioengine=nbd",
                    "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k,64k", "--iodepth=16",
                    "--size=32M", "--verify=crc32c", "--verify_fatal=1", "--randseed=13", "--verify_state_save=0",
                    "--do_verify=1", "--verify_only")).assertOk();
            ReplicatedServeTest.awaitStatus(nbdSocket, s -> s.path("state").asText().equals("ACTIVE"), "active");
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
        byte[] iscsi = java.util.Arrays.copyOf(Files.readAllBytes(lun), (int) (80 * MIB));
        assertTrue(java.util.Arrays.equals(iscsi, java.util.Arrays.copyOf(Files.readAllBytes(replicas.image(0)),
                (int) (80 * MIB))), "the iSCSI member equals the NBD ones");
    }

    /**
     * replace OLD iscsi://alice%SECRET@... under load: the LUN is rebuilt and verified, and the secret
     * typed in the URI is in no output, status, log nor metadata (the member is named alice:***@).
     */
    @Test
    void replaceWithAnIscsiMemberTypedWithItsSecret() throws Exception {
        tgtd = Tgtd.start(dir);
        Path lun = lun(1);
        tgtd.target(1, iqn(1), lun, 4096).account(1, "alice", SECRET, false);
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = dir.resolve("key");
        Files.writeString(key, "replace passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2), "--copies", "3");
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "5000"));
        serve.addAll(replicas.uris(0, 1, 2));
        String typed = "iscsi://alice%" + SECRET + "@" + tgtd.portal() + "/" + iqn(1) + "/1";
        String shown = "iscsi://alice:***@" + tgtd.portal() + "/" + iqn(1) + "/1";
        List<String> fio = List.of(ExternalTool.require("fio"), "--name=replace", "--ioengine=nbd",
                "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k", "--iodepth=16",
                "--size=32M", "--rate=8m", "--verify=crc32c", "--verify_fatal=1", "--randseed=17",
                "--verify_state_save=0");
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            Process writer = new ProcessBuilder(fio).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("fio.log").toFile()).start();
            java.io.ByteArrayOutputStream progress = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
            java.io.PrintStream oldErr = System.err;
            java.io.PrintStream oldOut = System.out;
            int code;
            try {
                Thread.sleep(500);
                System.setErr(new java.io.PrintStream(progress, true));
                System.setOut(new java.io.PrintStream(printed, true));
                code = Main.run("replace", "--admin-socket", nbdSocket + ".admin", "--rate", "40M", replicas.uri(1), typed);
            } finally {
                System.setErr(oldErr);
                System.setOut(oldOut);
            }
            String said = progress + "\n" + printed;
            assertEquals(0, code, said);
            assertFalse(said.contains(SECRET), said);
            try {
                assertTrue(writer.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
                assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio.log")) + server.stderr());
            } finally {
                writer.destroyForcibly();
            }
            com.fasterxml.jackson.databind.JsonNode status = ReplicatedServeTest.status(nbdSocket);
            assertEquals("active", ReplicatedServeTest.memberState(status, shown), status.toPrettyString());
            String text = cli("status", "--admin-socket", nbdSocket + ".admin");
            assertTrue(text.contains("alice:***@"), text);
            assertFalse(text.contains(SECRET) || status.toString().contains(SECRET), text);
            Proc.run(120, null, List.of(ExternalTool.require("fio"), "--name=replace", "--ioengine=nbd",
                    "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k", "--iodepth=16",
                    "--size=32M", "--verify=crc32c", "--verify_fatal=1", "--randseed=17", "--verify_state_save=0",
                    "--do_verify=1", "--verify_only")).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int exit = server.terminate(Duration.ofSeconds(60));
            assertTrue(exit == 0 || exit == 143, server.stderr());
            assertFalse(server.stderr().contains(SECRET), server.stderr());
        }
        byte[] bytes = Files.readAllBytes(lun);
        assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOf(bytes, (int) (80 * MIB)),
                java.util.Arrays.copyOf(Files.readAllBytes(replicas.image(0)), (int) (80 * MIB))),
                "the iSCSI member was rebuilt as a copy of the others");
        for (Path f : List.of(lun, replicas.image(0), replicas.image(2))) {
            assertFalse(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains(SECRET), "no secret in " + f);
        }
        Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                lun.toString()).assertOk();
    }

    /** ext4 through nbdfuse on a volume whose three members are iSCSI LUNs: files written, e2fsck clean, read back. */
    @Test
    void ext4ThroughNbdfuseOnAnIscsiBackedVolume() throws Exception {
        tgtd = Tgtd.start(dir);
        List<String> members = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            tgtd.target(i, iqn(i), lun(i), i == 2 ? 4096 : 512);
            members.add(tgtd.uri(iqn(i), 1));
        }
        Path key = dir.resolve("key");
        Files.writeString(key, "ext4 passphrase");
        List<String> create = new ArrayList<>(List.of("create", "--size", "80M", "--key-file", key.toString(),
                "--copies", "3"));
        create.addAll(List.of(NbdkitReplicas.CHEAP_KDF));
        create.addAll(members);
        assertEquals(0, Main.run(create.toArray(String[]::new)));
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> serve = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "5000"));
        serve.addAll(members);
        List<String> sums;
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, serve.toArray(String[]::new))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60)).awaitLog("serving array", Duration.ofSeconds(30))) {
            try (FuseDisk disk = FuseDisk.attach(dir, "nbd+unix:///?socket=" + nbdSocket)) {
                disk.mkfs();
                disk.mount(false);
                sums = FuseDisk.writeFiles(disk.mountPoint(), 6, 31);
                disk.umount();
                disk.assertClean();
                disk.mount(true);
                FuseDisk.assertFiles(disk.mountPoint(), sums);
                disk.umount();
            }
            assertEquals("ACTIVE", ReplicatedServeTest.status(nbdSocket).path("state").asText(), "no member failed");
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", nbdSocket + ".admin").trim());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
    }
}
