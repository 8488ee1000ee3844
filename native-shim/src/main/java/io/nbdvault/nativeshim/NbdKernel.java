package io.nbdvault.nativeshim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * Drives the kernel's NBD client. Preferred: its netlink interface ({@link NbdNetlink}), where the
 * kernel owns the device, survives the death of the serving process for a dead-connection timeout
 * and takes new sockets from a restarted one ({@link #reconnect}). Fallback, for kernels without it:
 * the ioctls, as old nbd-client does — the socket is handed over after the handshake, and NBD_DO_IT
 * blocks (on its own thread) for as long as the device is attached.
 */
public final class NbdKernel {
    private NbdKernel() {
    }

    /** Parameters for the device, from the export's handshake. */
    public record Attachment(long size, int blockSize, int transmissionFlags, int timeoutSeconds) {
    }

    /** A device the kernel serves from our sockets; {@link #detached()} completes when it is disconnected. */
    public record Connection(CompletableFuture<Void> detached, boolean netlink) {
    }

    /**
     * Configures {@code device} with sockets that have done their handshake: over netlink, with
     * {@code deadConnTimeoutSeconds} for a restarted server to {@link #reconnect}; over the ioctls
     * (one socket, no reconnect) when the kernel has no "nbd" netlink family.
     */
    public static Connection connect(Path device, Attachment a, int deadConnTimeoutSeconds, UnixSocketFd... sockets)
            throws IOException {
        return connect(device, a, deadConnTimeoutSeconds, false, sockets);
    }

    /** As {@link #connect(Path, Attachment, int, UnixSocketFd...)}; {@code ioctlOnly} skips netlink. */
    public static Connection connect(Path device, Attachment a, int deadConnTimeoutSeconds, boolean ioctlOnly,
                                     UnixSocketFd... sockets) throws IOException {
        requireDriver(device);
        int index = NbdNetlink.index(device);
        NbdNetlink netlink;
        try {
            if (ioctlOnly) {
                throw new IOException("netlink not wanted");
            }
            netlink = NbdNetlink.open();
        } catch (IOException noFamily) {
            if (sockets.length != 1) {
                throw new IOException("several connections need the kernel's nbd netlink interface: " + noFamily.getMessage());
            }
            return new Connection(attach(device, sockets[0], a), false);
        }
        try {
            netlink.connect(index, config(a, deadConnTimeoutSeconds), fds(sockets));
        } catch (ErrnoException e) {
            netlink.close();
            if (e.errno() == Linux.EBUSY) {
                throw new IOException(device + " is in use (attached already; after a crash use attach --reconnect)", e);
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            netlink.close();
            throw e;
        }
        return new Connection(watch(netlink, index, device), true);
    }

    /**
     * Gives a device whose server died (it is still configured, waiting for the dead-connection
     * timeout) new sockets, through netlink's RECONFIGURE; the kernel resends what it held back.
     */
    public static Connection reconnect(Path device, Attachment a, int deadConnTimeoutSeconds, UnixSocketFd... sockets)
            throws IOException {
        requireDriver(device);
        int index = NbdNetlink.index(device);
        Path sizeFile = Path.of("/sys/block", device.getFileName().toString(), "size");
        if (Files.exists(sizeFile)) {
            long sectors = Long.parseLong(Files.readString(sizeFile).trim());
            if (sectors * 512 != a.size()) {
                throw new IOException(device + " has " + sectors * 512 + " bytes but the volume " + a.size()
                        + (sectors == 0 ? " (it is not attached: attach without --reconnect)" : " (another volume?)"));
            }
        }
        // The kernel accepts a RECONFIGURE while the old server still lives (it just drops the new
        // sockets): refuse then, or two processes would serve one array.
        Path pidFile = Path.of("/sys/block", device.getFileName().toString(), "pid");
        if (Files.exists(pidFile)) {
            String task = Files.readString(pidFile).trim();
            if (!task.isEmpty() && Files.exists(Path.of("/proc", task))) {
                throw new IOException(device + " is still served by a live process (task " + task
                        + "): stop it first; --reconnect is for after it died");
            }
        }
        NbdNetlink netlink = NbdNetlink.open();
        try {
            if (!netlink.connected(index)) {
                throw new IOException(device + " is not attached (nothing to reconnect: attach without --reconnect)");
            }
            netlink.reconfigure(index, config(a, deadConnTimeoutSeconds), fds(sockets));
        } catch (IOException | RuntimeException e) {
            netlink.close();
            throw e;
        }
        return new Connection(watch(netlink, index, device), true);
    }

    /**
     * Runs {@code onDead} (on a daemon thread) each time the kernel gives up on a connection of
     * {@code device} while it stays configured — a request unanswered past the kernel timeout, say,
     * while this process lives — so that it can hand over a new one ({@link #replaceDeadConnections}).
     */
    public static void onLinkDead(Path device, Runnable onDead) throws IOException {
        int index = NbdNetlink.index(device);
        NbdNetlink listener = NbdNetlink.open();
        try {
            listener.subscribeLinkDead();
        } catch (IOException | RuntimeException e) {
            listener.close();
            throw e;
        }
        Thread t = new Thread(() -> {
            try (listener) {
                while (true) {
                    if (listener.awaitLinkDead() == index) {
                        onDead.run();
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("nbdvault: warning: no longer watching " + device + " for dead connections: " + e.getMessage());
            }
        }, "nbd-link-dead " + device);
        t.setDaemon(true);
        t.start();
    }

    /** RECONFIGURE from the live server: new sockets in place of the connections the kernel declared dead. */
    public static void replaceDeadConnections(Path device, Attachment a, int deadConnTimeoutSeconds, UnixSocketFd... sockets)
            throws IOException {
        try (NbdNetlink netlink = NbdNetlink.open()) {
            netlink.reconfigure(NbdNetlink.index(device), config(a, deadConnTimeoutSeconds), fds(sockets));
        }
    }

    /** Whether the kernel has {@code device} configured (over netlink; false without netlink). */
    public static boolean attached(Path device) throws IOException {
        requireDriver(device);
        int index = NbdNetlink.index(device);
        NbdNetlink netlink;
        try {
            netlink = NbdNetlink.open();
        } catch (IOException noFamily) {
            return false;
        }
        try {
            return netlink.connected(index);
        } finally {
            netlink.close();
        }
    }

    private static NbdNetlink.Config config(Attachment a, int deadConnTimeoutSeconds) {
        return new NbdNetlink.Config(a.size(), a.blockSize(), a.transmissionFlags(), a.timeoutSeconds(),
                deadConnTimeoutSeconds);
    }

    private static int[] fds(UnixSocketFd... sockets) {
        int[] fds = new int[sockets.length];
        for (int i = 0; i < sockets.length; i++) {
            fds[i] = sockets[i].fd();
        }
        return fds;
    }

    /** Polls NBD_CMD_STATUS until the kernel has let the device go (disconnected and closed by everyone). */
    private static CompletableFuture<Void> watch(NbdNetlink netlink, int index, Path device) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try (netlink) {
                while (netlink.connected(index)) {
                    Thread.sleep(200);
                }
                done.complete(null);
            } catch (InterruptedException e) {
                done.completeExceptionally(e);
            } catch (IOException | RuntimeException e) {
                done.completeExceptionally(e);
            }
        }, "nbd-status " + device);
        t.setDaemon(true);
        t.start();
        return done;
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

    /**
     * Asks the kernel to disconnect the device: it sends NBD_CMD_DISC to the server, and the device
     * is released once nobody has it open. Netlink first; the ioctl (which also works on devices
     * configured over netlink) when the kernel has no netlink interface.
     */
    public static void disconnect(Path device) throws IOException {
        requireDriver(device);
        int index = NbdNetlink.index(device);
        NbdNetlink netlink = null;
        try {
            netlink = NbdNetlink.open();
        } catch (IOException noFamily) {
            // old kernel: the ioctl below
        }
        if (netlink != null) {
            try {
                netlink.disconnect(index);
                return;
            } finally {
                netlink.close();
            }
        }
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
