package io.nbdvault.nbd.server;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** PEM certificate chain and PKCS#8 private key for STARTTLS, and how strictly TLS is required. */
public record TlsConfig(Path certificateChain, Path privateKey, TlsMode mode) {

    public static TlsConfig off() {
        return new TlsConfig(null, null, TlsMode.OFF);
    }

    /** Builds the server context; fails early with a clear message when the files are unusable. */
    SslContext newServerContext() throws IOException {
        if (mode == TlsMode.OFF) {
            return null;
        }
        for (Path p : new Path[] {certificateChain, privateKey}) {
            if (p == null || !Files.isReadable(p)) {
                throw new IOException("TLS needs a readable certificate and key file, cannot read: " + p);
            }
        }
        try {
            return SslContextBuilder.forServer(certificateChain.toFile(), privateKey.toFile()).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("cannot load TLS certificate " + certificateChain + " / key " + privateKey
                    + ": " + e.getMessage(), e);
        }
    }
}
