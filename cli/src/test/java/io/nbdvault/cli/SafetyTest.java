package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an operator's mistake must not do to a volume: each refusal checked on state and exit codes. */
@Timeout(300)
class SafetyTest {
    @TempDir
    Path dir;

    Path key() throws Exception {
        Path key = dir.resolve("key");
        Files.writeString(key, "safety passphrase");
        return key;
    }

    List<String> members(String prefix) {
        return List.of(dir.resolve(prefix + "1.img").toString(), dir.resolve(prefix + "2.img").toString(),
                dir.resolve(prefix + "3.img").toString());
    }

    static String[] args(List<String> head, List<String> tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(tail);
        return all.toArray(String[]::new);
    }

    CliBasicsTest.Run create(Path key, List<String> members, String... extra) {
        List<String> head = new ArrayList<>(List.of("create", "--size", "48M", "--key-file", key.toString(), "--pbkdf", "pbkdf2",
                "--pbkdf-force-iterations", "1000"));
        head.addAll(List.of(extra));
        return CliBasicsTest.run(args(head, members));
    }

    NbdvaultProcess serve(Path key, Path socket, List<String> members, String... extra) throws Exception {
        List<String> head = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", socket.toString()));
        head.addAll(List.of(extra));
        return NbdvaultProcess.start(dir, args(head, members));
    }

    static String uri(Path socket) {
        return "nbd+unix:///?socket=" + socket;
    }

    @Test
    void aSecondProcessCannotServeCreateOrFormatMembersInUseAndCreateNeverOverwritesAnArray() throws Exception {
        Path key = key();
        List<String> ms = members("r");
        assertEquals(0, create(key, ms).code());
        for (String m : ms) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of(m))),
                    m + ": ciphertext with key slots is readable by its owner only");
        }
        String qemuIo = ExternalTool.require("qemu-io");
        Path a = dir.resolve("a.sock");
        try (NbdvaultProcess first = serve(key, a, ms).awaitSocket(a, Duration.ofSeconds(60))) {
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 0x5a 1M 1M", "-c", "flush", uri(a)).assertOk();
            Path b = dir.resolve("b.sock");
            NbdvaultProcess second = serve(key, b, ms);
            assertNotEquals(0, second.waitFor(Duration.ofSeconds(60)), "a second serve on the same members is refused");
            assertFalse(Files.exists(b), "and never listened");
            NbdvaultProcess recreate = NbdvaultProcess.start(dir, args(List.of("create", "--force", "--size", "48M",
                    "--key-file", key.toString(), "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"), ms));
            assertNotEquals(0, recreate.waitFor(Duration.ofSeconds(60)), "not even --force overwrites members in use");
            NbdvaultProcess format = NbdvaultProcess.start(dir, "format", "--force", "--key-file", key.toString(), ms.get(0));
            assertNotEquals(0, format.waitFor(Duration.ofSeconds(60)));
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x5a 1M 1M", uri(a)).assertOk();
            int code = first.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, first.stderr());
        }
        byte[] before = Files.readAllBytes(Path.of(ms.get(1)));
        // Stopped now: create and format still refuse a device that holds a volume, without --force.
        assertNotEquals(0, create(key, ms).code());
        assertNotEquals(0, CliBasicsTest.run("format", "--key-file", key.toString(), ms.get(1)).code());
        assertArrayEquals(before, Files.readAllBytes(Path.of(ms.get(1))), "the refused commands wrote nothing");
        try (NbdvaultProcess again = serve(key, a, ms).awaitSocket(a, Duration.ofSeconds(60))) {
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x5a 1M 1M", uri(a)).assertOk();
            again.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void theAdminSocketNeverReplacesAFileOrAnotherServersSocket() throws Exception {
        Path key = key();
        List<String> one = members("x");
        List<String> two = members("y");
        assertEquals(0, create(key, one).code());
        assertEquals(0, create(key, two).code());
        Path notASocket = dir.resolve("notes.txt");
        Files.writeString(notASocket, "precious");
        NbdvaultProcess onFile = serve(key, dir.resolve("f.sock"), one, "--admin-socket", notASocket.toString());
        assertNotEquals(0, onFile.waitFor(Duration.ofSeconds(60)));
        assertEquals("precious", Files.readString(notASocket), "a regular file is never deleted for a socket");

        Path admin = dir.resolve("admin.sock");
        Path s1 = dir.resolve("one.sock");
        try (NbdvaultProcess first = serve(key, s1, one, "--admin-socket", admin.toString()).awaitSocket(s1, Duration.ofSeconds(60))) {
            String before = CliBasicsTest.run("status", "--admin-socket", admin.toString(), "--json").out();
            NbdvaultProcess thief = serve(key, dir.resolve("two.sock"), two, "--admin-socket", admin.toString());
            assertNotEquals(0, thief.waitFor(Duration.ofSeconds(60)), "a live admin socket is not taken over");
            String after = CliBasicsTest.run("status", "--admin-socket", admin.toString(), "--json").out();
            String arrayOf = "\"array\" : \"";
            assertTrue(before.contains(arrayOf), before);
            String id = before.substring(before.indexOf(arrayOf), before.indexOf(arrayOf) + arrayOf.length() + 36);
            assertTrue(after.contains(id), "the admin socket still answers for the first array:\n" + after);
            first.terminate(Duration.ofSeconds(60));
        }
    }
}
