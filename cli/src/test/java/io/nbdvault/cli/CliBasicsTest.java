package io.nbdvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Help, version, and one-line errors with the right exit codes, run in-process. */
class CliBasicsTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            int code = Main.run(args);
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void helpAndVersion() {
        Run help = run("--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("export"), help.out());
        Run exportHelp = run("export", "--help");
        assertEquals(0, exportHelp.code());
        assertTrue(exportHelp.out().contains("--read-only"), exportHelp.out());
        Run version = run("--version");
        assertEquals(0, version.code());
        assertTrue(version.out().startsWith("nbdvault "), version.out());
        // The JVM it runs on, which the launcher chooses and the benchmark scripts record.
        assertTrue(version.out().lines().anyMatch(l -> l.startsWith("Java " + Runtime.version() + " (")
                && l.endsWith(" at " + System.getProperty("java.home"))), version.out());
    }

    @Test
    void usageErrorsExitTwoWithTheProblemNamed() {
        Run unknown = run("frobnicate");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("frobnicate"), unknown.err());
        Run missing = run("export");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("TARGET"), missing.err());
        Run badSize = run("export", "--socket", dir.resolve("s").toString(), "memory:lots");
        assertEquals(1, badSize.code());
        assertTrue(badSize.err().contains("'lots' is not a size"), badSize.err());
    }

    @Test
    void runtimeErrorsAreOneLineAndExitOne() {
        Run noFile = run("export", "--socket", dir.resolve("s").toString(), dir.resolve("absent.img").toString());
        assertEquals(1, noFile.code());
        assertEquals(1, noFile.err().strip().lines().count(), noFile.err());
        assertTrue(noFile.err().contains("no such file or device"), noFile.err());
        Run directory = run("export", "--socket", dir.resolve("s").toString(), dir.toString());
        assertEquals(1, directory.code());
        assertTrue(directory.err().contains("is a directory"), directory.err());
        Run badListen = run("export", "--listen", "nonsense", "memory:1M");
        assertEquals(1, badListen.code());
        assertTrue(badListen.err().contains("HOST:PORT"), badListen.err());
        Run tlsHalf = run("export", "--socket", dir.resolve("s").toString(), "--tls-cert", "c.pem", "memory:1M");
        assertEquals(1, tlsHalf.code());
        assertTrue(tlsHalf.err().contains("--tls-key"), tlsHalf.err());
    }

    @Test
    void sizesParseWithBinaryUnits() {
        assertEquals(4096L, SizeConverter.parse("4096"));
        assertEquals(512L << 10, SizeConverter.parse("512K"));
        assertEquals(64L << 20, SizeConverter.parse("64MiB"));
        assertEquals(1L << 30, SizeConverter.parse("1g"));
        assertEquals(2L << 40, SizeConverter.parse("2T"));
        assertThrows(RuntimeException.class, () -> SizeConverter.parse("0"));
        assertThrows(RuntimeException.class, () -> SizeConverter.parse("-5M"));
        assertThrows(RuntimeException.class, () -> SizeConverter.parse("99999999999P"));
    }
}
