package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.testing.Certificates;
import io.nbdvault.testing.Devices;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.Unpooled;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** nbds:// replica links against nbdkit with --tls=require (GnuTLS on the other end). */
@Timeout(120)
class TlsLinkTest {
    @TempDir
    Path dir;

    static TransportContext trusting(Path caCert) throws Exception {
        SslContext tls = caCert == null ? null : SslContextBuilder.forClient().trustManager(caCert.toFile()).build();
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(5)), p -> null, tls);
    }

    @Test
    void aServerThatVerifiesClientsAcceptsOnlyOneWithACertificate() throws Exception {
        Path pki = Certificates.make(dir);
        Certificates.makeClient(pki);
        try (Nbdkit server = Nbdkit.start(dir.resolve("v.sock"), "--tls=require", "--tls-certificates=" + pki,
                "--tls-verify-peer", "memory", "1M")) {
            String secure = "nbds+unix:///?socket=" + server.socket;
            SslContext withCert = SslContextBuilder.forClient().trustManager(pki.resolve("ca-cert.pem").toFile())
                    .keyManager(pki.resolve("client-cert.pem").toFile(), pki.resolve("client-key.pem").toFile()).build();
            try (TransportContext context = new TransportContext(NbdClientOptions.defaults(), p -> null, withCert);
                 BlockDevice d = context.open(secure).join()) {
                d.write(0, Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4}), 0).join();
                assertArrayEquals(new byte[] {1, 2, 3, 4}, Devices.read(d, 0, 4));
            }
            try (TransportContext context = trusting(pki.resolve("ca-cert.pem"))) {
                assertThrows(CompletionException.class, () -> context.open(secure).join(), "no client certificate, no link");
            }
        }
    }

    static String message(Throwable t) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return String.valueOf(c.getMessage());
    }

    @Test
    void dataCrossesATlsLinkAndPlainOrUntrustedLinksAreRefused() throws Exception {
        Path pki = Certificates.make(dir);
        Path other = Certificates.make(Files.createDirectories(dir.resolve("other")));
        try (Nbdkit server = Nbdkit.start(dir.resolve("t.sock"), "--tls=require", "--tls-certificates=" + pki,
                "memory", "8M")) {
            String secure = "nbds+unix:///?socket=" + server.socket;
            byte[] data = new byte[256 * 1024];
            new java.util.Random(3).nextBytes(data);
            try (TransportContext context = trusting(pki.resolve("ca-cert.pem"));
                 BlockDevice d = context.open(secure).join()) {
                d.write(4096, Unpooled.wrappedBuffer(data), 0).join();
                d.flush().join();
                assertArrayEquals(data, Devices.read(d, 4096, data.length));
            }
            try (TransportContext context = trusting(pki.resolve("ca-cert.pem"))) {
                String plain = message(assertThrows(CompletionException.class, () -> context.open(server.uri()).join()));
                assertTrue(plain.contains("requires TLS"), plain);
            }
            try (TransportContext context = trusting(other.resolve("ca-cert.pem"))) {
                String untrusted = message(assertThrows(CompletionException.class, () -> context.open(secure).join()));
                assertTrue(untrusted.contains("TLS handshake failed"), untrusted);
            }
            try (TransportContext context = trusting(null)) {
                String missing = message(assertThrows(CompletionException.class, () -> context.open(secure).join()));
                assertTrue(missing.contains("--replica-ca"), missing);
            }
        }
    }
}
