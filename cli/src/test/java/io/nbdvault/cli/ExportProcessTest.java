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

/** {@code nbdvault export} as a separate process, driven by real clients and signals. */
@Timeout(180)
class ExportProcessTest {
    private static final Duration READY = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private static String uri(Path socket) {
        return "nbd+unix:///?socket=" + socket;
    }

    @Test
    void fileExportKeepsDataAcrossRestartsAndStopsCleanlyOnSigterm() throws Exception {
        String qemuIo = ExternalTool.require("qemu-io");
        String nbdinfo = ExternalTool.require("nbdinfo");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(32 << 20);
        }
        Path socket = dir.resolve("nbd.sock");
        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(),
                "--description", "scratch disk", image.toString()).awaitSocket(socket, READY)) {
            assertEquals("33554432", Proc.run(30, nbdinfo, "--size", uri(socket)).assertOk().stdout().trim());
            assertTrue(Proc.run(30, nbdinfo, uri(socket)).assertOk().stdout().contains("scratch disk"));
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 0x6b 5M 3M", "-c", "flush", uri(socket)).assertOk();
            int code = p.terminate(Duration.ofSeconds(30));
            assertTrue(code == 0 || code == 143, "exit code after SIGTERM: " + code + "\n" + p.stderr());
        }
        assertTrue(!Files.exists(socket), "the socket is removed on shutdown");
        byte[] onDisk = Files.readAllBytes(image);
        assertEquals(0x6b, onDisk[(5 << 20) + 12345]);
        assertEquals(0, onDisk[(5 << 20) - 1]);

        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--read-only", "--socket", socket.toString(),
                image.toString()).awaitSocket(socket, READY)) {
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x6b 5M 3M", uri(socket)).assertOk();
            Proc.Result write = Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 1 0 4k", uri(socket));
            String all = write.stdout() + write.stderr();
            assertTrue(write.exitCode() != 0 || all.contains("read-only") || all.contains("ermission")
                    || all.contains("read only"), all);
            assertTrue(Proc.run(30, nbdinfo, uri(socket)).assertOk().stdout().contains("is_read_only: true"));
        }
        assertEquals(0, Files.readAllBytes(image)[0], "the read-only export did not write");
    }

    @Test
    void memoryExportOverTcpWithAName() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--listen", "127.0.0.1:" + port,
                "--name", "scratch", "memory:1G").awaitLog("exporting", READY)) {
            assertTrue(p.stderr().contains("nbd://127.0.0.1:" + port + "/scratch"), p.stderr());
            Proc.Result r = Proc.run(30, nbdinfo, "--size", "nbd://127.0.0.1:" + port + "/scratch").assertOk();
            assertEquals(Long.toString(1L << 30), r.stdout().trim());
        }
    }

    @Test
    void tlsExportServesNbdsClientsAndRefusesPlaintext() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        String openssl = ExternalTool.require("openssl");
        Path pki = Files.createDirectories(dir.resolve("pki"));
        Proc.run(60, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE",
                "-keyout", pki.resolve("key.pem").toString(), "-out", pki.resolve("ca-cert.pem").toString()).assertOk();
        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--listen", "127.0.0.1:" + port,
                "--tls-cert", pki.resolve("ca-cert.pem").toString(), "--tls-key", pki.resolve("key.pem").toString(),
                "memory:16M").awaitLog("exporting", READY)) {
            assertTrue(p.stderr().contains("nbds://"), p.stderr());
            Proc.Result tls = Proc.run(30, nbdinfo, "nbds://localhost:" + port + "/?tls-certificates=" + pki).assertOk();
            assertTrue(tls.stdout().contains("with TLS"), tls.stdout());
            assertNotEquals(0, Proc.run(30, nbdinfo, "nbd://127.0.0.1:" + port + "/").exitCode());
        }
    }

    @Test
    void secondServerOnALiveSocketIsRefused() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        try (NbdvaultProcess first = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(), "memory:1M")
                .awaitSocket(socket, READY);
             NbdvaultProcess second = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(), "memory:1M")) {
            assertEquals(1, second.waitFor(READY));
            assertTrue(second.stderr().contains("already listening"), second.stderr());
            assertTrue(first.isAlive());
        }
    }
}
