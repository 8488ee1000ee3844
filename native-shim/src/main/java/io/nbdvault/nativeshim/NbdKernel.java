package io.nbdvault.nativeshim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * Drives the kernel's NBD client through its ioctls, as nbd-client does: the socket is handed over
 * after the handshake, and NBD_DO_IT blocks (on its own thread) for as long as the device is attached.
 */
public final class NbdKernel {
    private NbdKernel() {
    }

    /** Parameters for the device, from the export's handshake. */
    public record Attachment(long size, int blockSize, int transmissionFlags, int timeoutSeconds) {
    }

    /** Fails with instructions when the kernel has no nbd driver or the device node is missing. */
    public static void requireDriver(Path device) throws IOException {
        if (!Files.exists(device)) {
            boolean loaded = Files.isDirectory(Path.of("/sys/module/nbd"));
            throw new IOException(loaded
                    ? device + " does not exist (the nbd module is loaded with fewer devices: modprobe -r nbd && modprobe nbd nbds_max=16)"
                    : "the kernel has no nbd driver loaded: run `modprobe nbd` as root (or use `nbdvault attach --fuse DIR`)");
        }
    }

    /**
     * Configures {@code device} and starts NBD_DO_IT; the returned future completes when the device is
     * disconnected (by {@link #disconnect}, the server closing, or the timeout).
     */
    public static CompletableFuture<Void> attach(Path device, UnixSocketFd socket, Attachment a) throws IOException {
        requireDriver(device);
        NativeFile dev = NativeFile.open(device, false, false);
        try {
            ioctl(dev, Linux.NBD_CLEAR_SOCK, 0, device);
            ioctl(dev, Linux.NBD_SET_BLKSIZE, a.blockSize(), device);
            ioctl(dev, Linux.NBD_SET_SIZE_BLOCKS, a.size() / a.blockSize(), device);
            ioctl(dev, Linux.NBD_SET_TIMEOUT, a.timeoutSeconds(), device);
            ioctl(dev, Linux.NBD_SET_FLAGS, a.transmissionFlags(), device);
            ioctl(dev, Linux.NBD_SET_SOCK, socket.fd(), device);
        } catch (IOException e) {
            dev.close();
            throw e;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread doIt = new Thread(() -> {
            try {
                // Returns only when the device is disconnected.
                Native.libc().ioctl(dev.fd(), Linux.NBD_DO_IT, 0L);
                Native.libc().ioctl(dev.fd(), Linux.NBD_CLEAR_QUE, 0L);
                Native.libc().ioctl(dev.fd(), Linux.NBD_CLEAR_SOCK, 0L);
                done.complete(null);
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            } finally {
                dev.close();
            }
        }, "nbd-do-it " + device);
        doIt.setDaemon(true);
        doIt.start();
        return done;
    }

    /** Asks the kernel to disconnect the device: it sends NBD_CMD_DISC and NBD_DO_IT returns. */
    public static void disconnect(Path device) throws IOException {
        requireDriver(device);
        try (NativeFile dev = NativeFile.open(device, false, false)) {
            ioctl(dev, Linux.NBD_DISCONNECT, 0, device);
        }
    }

    private static void ioctl(NativeFile dev, long request, long argument, Path device) throws IOException {
        if (Native.libc().ioctl(dev.fd(), request, argument) != 0) {
            throw Native.failure("ioctl(0x" + Long.toHexString(request) + ")", device, Native.errno());
        }
    }
}
