package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serve} with no members (the embedded default) listens on a 0600 unix socket in its data
 * folder, not on TCP 127.0.0.1 where any local user could read and write the plaintext, and prints
 * how to connect; TCP only with --listen.
 */
@Timeout(300)
class EmbeddedDefaultServeTest {
    @TempDir
    Path dir;

    @Test
    void embeddedDefaultListensOnAPrivateUnixSocket() throws Exception {
        Path data = dir.resolve("nbdvault-data");
        Path socket = data.resolve("nbd.sock").toAbsolutePath();
        String uri = "nbd+unix:///?socket=" + socket;
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, "serve", "--data-dir", data.toString())
                .awaitSocket(socket, Duration.ofSeconds(120)).awaitLog("serving", Duration.ofSeconds(60))) {
            assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(socket));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket,
                    LinkOption.NOFOLLOW_LINKS)));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(data)));
            String log = server.stderr();
            assertTrue(log.contains("nbdinfo '" + uri + "'"), log);
            assertFalse(log.contains("nbd://127.0.0.1"), log);
            Proc.Result size = Proc.run(60, ExternalTool.require("nbdinfo"), "--size", uri).assertOk();
            assertTrue(Long.parseLong(size.stdout().trim()) > (1L << 29), size.stdout());
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the socket is removed on exit");

        // TCP only when asked for, and then no unix socket.
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, "serve", "--data-dir", data.toString(),
                "--listen", "127.0.0.1:" + port).awaitLog("serving", Duration.ofSeconds(60))) {
            assertTrue(server.stderr().contains("nbd://127.0.0.1:" + port), server.stderr());
            assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
            Proc.run(60, ExternalTool.require("nbdinfo"), "--size", "nbd://127.0.0.1:" + port).assertOk();
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
    }
}
