package io.nbdvault.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The fallback when the kernel has no nbd driver: nbdfuse (from libnbd) shows the export as the
 * file DIR/nbdvault, which mount -o loop can mount. The attachment ends when nbdfuse exits
 * (after `fusermount3 -u DIR` or `nbdvault detach DIR`) or when nbdvault is signalled.
 */
final class FuseAttachment {
    static final String FILE_NAME = "nbdvault";
    private static final Logger LOG = Logger.getLogger(FuseAttachment.class.getName());

    private FuseAttachment() {
    }

    static CompletableFuture<Void> start(Path dir, Path socket, AttachCommand.Teardown teardown) throws IOException,
            InterruptedException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("--fuse needs an existing directory: " + dir);
        }
        Path pidFile = socket.resolveSibling("nbdfuse.pid");
        Process fuse;
        try {
            fuse = new ProcessBuilder("nbdfuse", "-P", pidFile.toString(), dir.resolve(FILE_NAME).toString(),
                    "nbd+unix:///?socket=" + socket).inheritIO().start();
        } catch (IOException e) {
            throw new IOException("cannot run nbdfuse (Debian package libnbd-bin): " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(pidFile)) {
            if (!fuse.isAlive()) {
                throw new IOException("nbdfuse exited with status " + fuse.exitValue() + " before mounting " + dir);
            }
            if (System.nanoTime() > deadline) {
                fuse.destroy();
                throw new IOException("nbdfuse did not mount " + dir + " within 30 s");
            }
            Thread.sleep(20);
        }
        teardown.before(() -> unmount(dir, fuse));
        LOG.info("attached as " + dir.resolve(FILE_NAME) + " (mount it with: mount -o loop "
                + dir.resolve(FILE_NAME) + " MOUNTPOINT; detach with: nbdvault detach " + dir + ")");
        return fuse.onExit().thenApply(p -> null);
    }

    static void unmount(Path dir, Process fuse) {
        if (fuse.isAlive()) {
            try {
                new ProcessBuilder("fusermount3", "-u", dir.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
                if (!fuse.waitFor(30, TimeUnit.SECONDS)) {
                    LOG.warning("nbdfuse did not exit after unmounting " + dir + "; stopping it");
                    fuse.destroy();
                }
            } catch (IOException e) {
                LOG.warning("cannot unmount " + dir + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
