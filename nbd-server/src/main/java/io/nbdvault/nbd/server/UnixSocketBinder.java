package io.nbdvault.nbd.server;

import io.netty.channel.Channel;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Binds a unix socket that only its owner can use, with no moment in which it is reachable with
 * looser permissions: it is bound inside a private (0700) directory, set to 0600, and only then
 * renamed into place. A stale socket left by a dead server is replaced; a live one is an error.
 */
public final class UnixSocketBinder {
    public interface Bind {
        Channel bind(Path path);
    }

    private UnixSocketBinder() {
    }

    public static Channel bind(Path socket, Bind bind) throws IOException {
        Path target = socket.toAbsolutePath();
        Path parent = target.getParent();
        Files.createDirectories(parent);
        removeIfStale(target);
        Path privateDir = Files.createTempDirectory(parent, ".nbdvault-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path temporary = privateDir.resolve("s");
        try {
            Channel channel;
            try {
                channel = bind.bind(temporary);
            } catch (RuntimeException e) {
                throw new IOException("cannot listen on unix socket " + target + ": " + e.getMessage(), e);
            }
            Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-------"));
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            return channel;
        } finally {
            Files.deleteIfExists(temporary);
            Files.deleteIfExists(privateDir);
        }
    }

    private static void removeIfStale(Path socket) throws IOException {
        if (!Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isRegularFile(socket) || Files.isDirectory(socket)) {
            throw new IOException(socket + " exists and is not a socket; refusing to replace it");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            throw new IOException("another server is already listening on " + socket);
        } catch (java.net.ConnectException e) {
            Files.delete(socket);
        }
    }
}
