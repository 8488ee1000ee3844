package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** format, key, header dump and the encrypted export, through the CLI and checked with cryptsetup and qemu-io. */
@Timeout(300)
class LuksCliTest {
    @TempDir
    Path dir;

    private static final String[] CHEAP = {"--pbkdf", "argon2id", "--pbkdf-force-iterations", "4", "--pbkdf-memory", "8192",
            "--pbkdf-parallel", "1"};

    private String[] args(String... parts) {
        return parts;
    }

    private String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void formatLuks1ForOlderTools() throws Exception {
        Path img = dir.resolve("v1.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Path key = dir.resolve("key1");
        Files.writeString(key, "luks1 secret");
        CliBasicsTest.Run refused = CliBasicsTest.run(concat(args("format", "--type", "luks1", "--key-file", key.toString()),
                concat(CHEAP, img.toString())));
        assertTrue(refused.code() != 0 && refused.err().contains("pbkdf2"), refused.err());
        CliBasicsTest.Run format = CliBasicsTest.run("format", "--type", "luks1", "--key-file", key.toString(), "--pbkdf",
                "pbkdf2", "--pbkdf-force-iterations", "1000", img.toString());
        assertEquals(0, format.code(), format.err());
        assertTrue(format.err().contains("as LUKS1"), format.err());
        Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                img.toString()).assertOk();
        CliBasicsTest.Run dump = CliBasicsTest.run("header", "dump", img.toString());
        assertTrue(dump.out().contains("Version:        1"), dump.out());
    }

    @Test
    void formatExportEncryptedAndManageKeys() throws Exception {
        String cryptsetup = ExternalTool.require("cryptsetup");
        String qemuIo = ExternalTool.require("qemu-io");
        Path img = dir.resolve("vol.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(48L << 20);
        }
        Path key = dir.resolve("key");
        Files.writeString(key, "first secret");
        Path key2 = dir.resolve("key2");
        Files.writeString(key2, "second secret");

        CliBasicsTest.Run format = CliBasicsTest.run(concat(concat(args("format", "--key-file", key.toString(),
                "--sector-size", "4096"), CHEAP), img.toString()));
        assertEquals(0, format.code(), format.err());
        Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", key.toString(), img.toString()).assertOk();

        CliBasicsTest.Run dump = CliBasicsTest.run("header", "dump", img.toString());
        assertEquals(0, dump.code(), dump.err());
        assertTrue(dump.out().contains("sector: 4096"), dump.out());
        assertTrue(!dump.out().contains("first secret"));

        Path socket = dir.resolve("nbd.sock");
        String uri = "nbd+unix:///?socket=" + socket;
        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--key-file", key.toString(), "--socket",
                socket.toString(), img.toString()).awaitSocket(socket, Duration.ofSeconds(60))) {
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 0x3c 0 2M", "-c", "flush", uri).assertOk();
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x3c 0 2M", uri).assertOk();
            int code = p.terminate(Duration.ofSeconds(30));
            assertTrue(code == 0 || code == 143, p.stderr());
        }
        byte[] raw = Files.readAllBytes(img);
        int run = 0;
        for (int i = 16 << 20; i < (18 << 20); i++) {
            run = raw[i] == 0x3c ? run + 1 : 0;
            assertTrue(run < 16, "plaintext pattern found on the encrypted image at " + i);
        }

        CliBasicsTest.Run add = CliBasicsTest.run(concat(concat(args("key", "add", "--key-file", key.toString(),
                "--new-key-file", key2.toString()), CHEAP), img.toString()));
        assertEquals(0, add.code(), add.err());
        CliBasicsTest.Run remove = CliBasicsTest.run("key", "remove", "--key-file", key.toString(), img.toString());
        assertEquals(0, remove.code(), remove.err());
        assertNotEquals(0, Proc.run(60, cryptsetup, "open", "--test-passphrase", "--key-file", key.toString(),
                img.toString()).exitCode());

        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--read-only", "--key-file", key2.toString(),
                "--socket", socket.toString(), img.toString()).awaitSocket(socket, Duration.ofSeconds(60))) {
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x3c 0 2M", uri).assertOk();
        }

        CliBasicsTest.Run wrong = CliBasicsTest.run("export", "--key-file", key.toString(), "--socket",
                socket.toString(), img.toString());
        assertEquals(1, wrong.code());
        assertTrue(wrong.err().contains("No key available with this passphrase"), wrong.err());
        assertTrue(!wrong.err().contains("first secret"));
    }

    @Test
    void passphrasesAreNeverTakenFromTheCommandLineAndNeedATerminalOtherwise() {
        CliBasicsTest.Run run = CliBasicsTest.run("format", dir.resolve("x.img").toString());
        assertEquals(1, run.code());
        CliBasicsTest.Run noPrompt = CliBasicsTest.run("format", "--key-fd", "999", "memory:32M");
        assertEquals(1, noPrompt.code());
        assertTrue(noPrompt.err().contains("file descriptor 999 is not open"), noPrompt.err());
    }
}
