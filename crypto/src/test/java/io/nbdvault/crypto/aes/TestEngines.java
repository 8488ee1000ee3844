package io.nbdvault.crypto.aes;

import org.junit.jupiter.api.Assumptions;

import java.util.List;

/** The AES engines a test runs under: both, OpenSSL's libcrypto required under CI (its package is installed with openssl). */
public final class TestEngines {
    private TestEngines() {
    }

    public static List<AesEngine> all() {
        requireOpenSsl();
        return List.of(AesEngine.JDK, AesEngine.OPENSSL);
    }

    public static void requireOpenSsl() {
        if (!AesEngine.openSslAvailable()) {
            String message = "OpenSSL's libcrypto is not loadable: " + AesEngine.describe();
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            Assumptions.abort(message);
        }
    }
}
