package io.nbdvault.nbd.server;

import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** STARTTLS against libnbd (GnuTLS) with a certificate made by openssl. */
@Timeout(120)
class TlsTest {
    @TempDir
    Path dir;

    static Path makeCertificates(Path dir) {
        return io.nbdvault.testing.Certificates.make(dir);
    }

    private TestServer tlsServer(TlsMode mode) throws Exception {
        Path certs = makeCertificates(dir);
        return TestServer.start(dir, TestServer.with(new MemoryDevice(4 << 20), false)
                .tls(new TlsConfig(certs.resolve("server-cert.pem"), certs.resolve("server-key.pem"), mode)));
    }

    @Test
    void nbdinfoConnectsWithTlsAndVerifiesTheCertificate() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        String qemuIo = ExternalTool.require("qemu-io");
        try (TestServer s = tlsServer(TlsMode.REQUIRED)) {
            String uri = "nbds://localhost:" + s.port() + "/disk?tls-certificates=" + dir.resolve("pki");
            Proc.Result r = Proc.run(30, nbdinfo, uri).assertOk();
            assertTrue(r.stdout().contains("with TLS"), r.stdout());
            assertTrue(r.stdout().contains("export-size: 4194304"), r.stdout());
            // Data goes through the encrypted connection intact (qemu-io over plain NBD is refused below).
            assertNotEquals(0, Proc.run(30, qemuIo, "-f", "raw", "-c", "read 0 4k", s.tcpUri("disk")).exitCode());
        }
    }

    @Test
    void requiredTlsRefusesPlaintextClientsAndHidesExports() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        try (TestServer s = tlsServer(TlsMode.REQUIRED)) {
            Proc.Result plain = Proc.run(30, nbdinfo, s.unixUri("disk"));
            assertNotEquals(0, plain.exitCode(), plain.stdout());
            Proc.Result list = Proc.run(30, nbdinfo, "--list", s.unixUri(""));
            assertTrue(list.exitCode() != 0 || !list.stdout().contains("disk"), list.stdout());
        }
    }

    @Test
    void optionalTlsServesBothKindsOfClient() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        try (TestServer s = tlsServer(TlsMode.OPTIONAL)) {
            assertTrue(Proc.run(30, nbdinfo, s.unixUri("disk")).assertOk().stdout().contains("without TLS"));
            String uri = "nbds://localhost:" + s.port() + "/disk?tls-certificates=" + dir.resolve("pki");
            assertTrue(Proc.run(30, nbdinfo, uri).assertOk().stdout().contains("with TLS"));
        }
    }

    @Test
    void unreadableCertificateIsAClearStartupError() {
        var e = assertThrows(java.io.IOException.class, () -> TestServer.start(dir,
                TestServer.with(new MemoryDevice(4096), false)
                        .tls(new TlsConfig(dir.resolve("none.pem"), dir.resolve("none.key"), TlsMode.REQUIRED))));
        assertTrue(e.getMessage().contains("none.pem"), e.getMessage());
        assertEquals(false, Files.exists(dir.resolve("nbd.sock")));
    }
}
