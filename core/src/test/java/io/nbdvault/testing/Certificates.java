package io.nbdvault.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Test PKI made by openssl: a self-signed CA certificate for localhost/127.0.0.1, laid out as nbdkit and libnbd expect. */
public final class Certificates {
    private Certificates() {
    }

    /** Creates DIR/pki with ca-cert.pem, server-cert.pem (the same self-signed CA) and server-key.pem. */
    public static Path make(Path dir) {
        String openssl = ExternalTool.require("openssl");
        Path certs = dir.resolve("pki");
        try {
            Files.createDirectories(certs);
            Proc.run(60, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", certs.resolve("server-key.pem").toString(),
                    "-out", certs.resolve("server-cert.pem").toString()).assertOk();
            Files.copy(certs.resolve("server-cert.pem"), certs.resolve("ca-cert.pem"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return certs;
    }

    /** A client certificate signed by the CA in {@code pki}: client-cert.pem and client-key.pem (PKCS#8). */
    public static void makeClient(Path pki) {
        String openssl = ExternalTool.require("openssl");
        Proc.run(60, openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=nbdvault-client",
                "-keyout", pki.resolve("client-key.pem").toString(), "-out", pki.resolve("client.csr").toString()).assertOk();
        byte[] extensions = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".getBytes(StandardCharsets.US_ASCII);
        Proc.run(60, extensions, List.of(openssl, "x509", "-req", "-days", "2", "-in", pki.resolve("client.csr").toString(),
                "-CA", pki.resolve("ca-cert.pem").toString(), "-CAkey", pki.resolve("server-key.pem").toString(),
                "-CAcreateserial", "-extfile", "/dev/stdin", "-out", pki.resolve("client-cert.pem").toString())).assertOk();
    }
}
