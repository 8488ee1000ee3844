package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.nativeshim.NbdKernel;
import io.nbdvault.nativeshim.UnixSocketFd;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code nbdvault attach}: make a volume a local disk. With the kernel's nbd driver it becomes
 * /dev/nbdN (no nbd-client needed); without it, --fuse shows it as a file through nbdfuse, ready
 * for mount -o loop. The volume is a single target (file, block device, memory:SIZE, optionally
 * LUKS), or the replicated, encrypted volume serve assembles: two or more MEMBERs (or --array with
 * one), or none for the embedded default. Runs until SIGTERM/SIGINT or until the device is detached.
 *
 * <p>The device is configured over the kernel's netlink interface when it has one: then the kernel,
 * not this process, owns it, and if this process dies (kill -9, a crash, an upgrade) a mounted
 * filesystem stays mounted while the kernel holds its I/O for --dead-conn-timeout seconds;
 * {@code attach --reconnect} with the same volume hands the kernel new sockets and the I/O goes on.
 */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = {"Attach a volume as /dev/nbdN, or as a file under DIR with --fuse.",
                "The volume: one TARGET, or the replicated volume of MEMBERs (as for serve; none: the embedded default).",
                "Stops (flushing everything) on SIGTERM/SIGINT or `nbdvault detach`."},
        footer = {"", "Examples:", "  nbdvault attach /dev/nbd0 --key-file key disk.img",
                "  nbdvault attach /dev/nbd0 --key-file key nbd://s1/ nbd://s2/ nbd://s3/",
                "  nbdvault attach /dev/nbd0                      # the embedded default (./nbdvault-data)",
                "  nbdvault attach --reconnect /dev/nbd0 ...      # after nbdvault died, same arguments",
                "  nbdvault attach --fuse /mnt/vault memory:1G   # then: mount -o loop /mnt/vault/nbdvault /mnt/x"})
public final class AttachCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(AttachCommand.class.getName());

    @Option(names = "--fuse", paramLabel = "DIR", description = "Expose the volume as DIR/nbdvault via nbdfuse instead.")
    Path fuseDir;

    @Parameters(arity = "0..*", paramLabel = "[/dev/nbdN] [TARGET | MEMBER...]", hideParamSyntax = true,
            description = {"The kernel NBD device (not with --fuse), then a file, block device or memory:SIZE,",
                    "or the members of a replicated volume (none: the embedded default in --data-dir)."})
    List<String> positional = new ArrayList<>();

    @Mixin
    AssembledVolume.Options volumeOptions;

    @Option(names = "--array", description = "A single MEMBER is one member of a replicated volume (assembled degraded), not a plain TARGET.")
    boolean array;

    @Option(names = "--encrypted", description = "TARGET is a LUKS volume (implied by --key-file/--key-fd).")
    boolean encrypted;

    @Option(names = "--read-only", description = "Attach a single TARGET read-only.")
    boolean readOnly;

    @Option(names = "--reconnect", description = "The device is still attached from an nbdvault that died: give the kernel new connections to it.")
    boolean reconnect;

    @Option(names = "--reconnect-if-attached",
            description = "Reconnect when the device is still attached (after a crash), else attach: for service managers that restart nbdvault.")
    boolean reconnectIfAttached;

    @Option(names = "--kernel-timeout", paramLabel = "SECONDS",
            description = "Kernel request timeout: a request unanswered this long is sent again on a live connection (default 30).")
    int kernelTimeoutSeconds = 30;

    @Option(names = "--dead-conn-timeout", paramLabel = "SECONDS",
            description = "How long the kernel holds I/O when nbdvault has died, waiting for attach --reconnect (netlink only; default 120).")
    int deadConnTimeoutSeconds = 120;

    @Option(names = "--nbd-connections", paramLabel = "N", description = "Connections from the kernel to the volume (netlink only; default 1).")
    int nbdConnections = 1;

    @Option(names = "--ioctl", description = "Configure the device through the old ioctls even where the kernel has netlink (no --reconnect then).")
    boolean ioctlOnly;

    private Path device;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        if (fuseDir == null && positional.isEmpty()) {
            throw new IllegalArgumentException("give the device: attach /dev/nbdN [TARGET | MEMBER...] (or attach --fuse DIR ...)");
        }
        if (ioctlOnly && (reconnect || reconnectIfAttached)) {
            throw new IllegalArgumentException("--reconnect needs netlink: not with --ioctl");
        }
        if (fuseDir != null && (reconnect || reconnectIfAttached)) {
            throw new IllegalArgumentException("--reconnect is for /dev/nbdN, not --fuse");
        }
        device = fuseDir == null ? Path.of(positional.get(0)) : null;
        List<String> targets = positional.subList(fuseDir == null ? 1 : 0, positional.size());
        if (device != null) {
            NbdKernel.requireDriver(device); // fail before unlocking anything
            lockDevice(device);
            if (reconnectIfAttached && !reconnect && NbdKernel.attached(device)) {
                LOG.info(device + " is still attached: reconnecting");
                reconnect = true;
            }
        }
        boolean single = targets.size() == 1 && !array;
        AutoCloseable volume;
        BlockDevice exported;
        io.nbdvault.core.LayerLatencies latencies = new io.nbdvault.core.LayerLatencies();
        io.netty.channel.EventLoopGroup loops = null; // the server's own, unless it serves replicas
        String what;
        if (single) {
            BlockDevice raw = Targets.open(targets.get(0), readOnly);
            OpenedVolume opened;
            try {
                opened = encrypted || volumeOptions.key.given() ? OpenedVolume.unlock(raw, volumeOptions.key) : OpenedVolume.plain(raw);
            } catch (Exception e) {
                raw.close();
                throw e;
            }
            volume = opened;
            exported = opened.device();
            what = targets.get(0);
        } else {
            if (readOnly) {
                throw new IllegalArgumentException("--read-only is for a single TARGET");
            }
            AssembledVolume assembled = AssembledVolume.open(targets, volumeOptions, AssembledVolume::runtimeAdminSocket);
            volume = assembled;
            exported = assembled.plaintext();
            what = assembled.describe();
            latencies = assembled.latencies();
            loops = assembled.eventLoops();
        }
        Path privateDir;
        NbdServer server;
        try {
            privateDir = Files.createTempDirectory("nbdvault-attach-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            server = NbdServer.builder().latencies(latencies).eventLoops(loops).export(new NbdExport("", what, exported, single && readOnly))
                    .listenUnix(privateDir.resolve("nbd.sock")).start();
        } catch (Exception e) {
            volume.close();
            throw e;
        }
        Path socket = privateDir.resolve("nbd.sock");
        Teardown teardown = new Teardown(server, volume, privateDir);
        Runtime.getRuntime().addShutdownHook(new Thread(teardown::run, "detach"));
        try {
            CompletableFuture<Void> detached = fuseDir != null
                    ? FuseAttachment.start(fuseDir, socket, teardown)
                    : kernel(device, socket, teardown, what);
            detached.get();
        } finally {
            teardown.run();
        }
        return 0;
    }

    /**
     * One nbdvault per device: a lock held for the life of the process (the kernel itself would
     * accept a second server's RECONFIGURE while the first is alive, and silently drop its sockets).
     */
    private static void lockDevice(Path device) throws java.io.IOException {
        Path dir = Files.isDirectory(Path.of("/run/lock")) ? Path.of("/run/lock") : Path.of(System.getProperty("java.io.tmpdir"));
        Path lockFile = dir.resolve("nbdvault-" + device.getFileName() + ".lock");
        java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(lockFile,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        java.nio.channels.FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            channel.close();
            throw new java.io.IOException("another nbdvault is serving " + device + " (it holds " + lockFile + ")");
        }
        deviceLock = lock; // held until the process exits
    }

    private static java.nio.channels.FileLock deviceLock;

    private CompletableFuture<Void> kernel(Path device, Path socket, Teardown teardown, String what) throws Exception {
        if (nbdConnections < 1) {
            throw new IllegalArgumentException("--nbd-connections must be at least 1");
        }
        UnixSocketFd[] fds = new UnixSocketFd[nbdConnections];
        NbdKernel.Attachment attachment = null;
        NbdKernel.Connection connection;
        try {
            for (int i = 0; i < fds.length; i++) {
                fds[i] = UnixSocketFd.connect(socket);
                attachment = KernelHandshake.negotiate(fds[i], 4096, kernelTimeoutSeconds);
            }
            connection = reconnect
                    ? NbdKernel.reconnect(device, attachment, deadConnTimeoutSeconds, fds)
                    : NbdKernel.connect(device, attachment, deadConnTimeoutSeconds, ioctlOnly, fds);
        } catch (Exception e) {
            for (UnixSocketFd fd : fds) {
                if (fd != null) {
                    fd.close();
                }
            }
            throw e;
        }
        if (connection.netlink()) {
            // The kernel holds its own references to the sockets.
            for (UnixSocketFd fd : fds) {
                fd.close();
            }
        }
        CompletableFuture<Void> done = connection.detached();
        NbdKernel.Attachment negotiated = attachment;
        if (connection.netlink()) {
            NbdKernel.onLinkDead(device, () -> replaceDeadConnection(device, socket, negotiated, teardown));
        }
        teardown.before(() -> {
            if (!done.isDone()) {
                try {
                    NbdKernel.disconnect(device);
                    // A device still open (mounted) is released only when closed: do not wait for that long.
                    done.get(connection.netlink() ? 10 : 30, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    LOG.warning(device + " is still in use after the disconnect (mounted?); stopping anyway");
                } catch (Exception e) {
                    LOG.warning("disconnecting " + device + ": " + e.getMessage());
                }
            }
            if (!connection.netlink()) {
                for (UnixSocketFd fd : fds) {
                    fd.close();
                }
            }
        });
        LOG.info((reconnect ? "reconnected and attached " : "attached ") + what + " as " + device + " ("
                + attachment.size() + " bytes, " + (connection.netlink()
                ? "netlink, dead-connection timeout " + deadConnTimeoutSeconds + " s" : "ioctl") + ")");
        return done;
    }

    /**
     * The kernel declared a connection dead while this process lives (a request went unanswered
     * past --kernel-timeout, e.g. while every replica was slow, or the process was stopped): it shut
     * that socket down and holds the I/O for --dead-conn-timeout. Give it a fresh connection at once;
     * the requests it held are sent again on it.
     */
    private void replaceDeadConnection(Path device, Path socket, NbdKernel.Attachment attachment, Teardown teardown) {
        if (teardown.stopping()) {
            return;
        }
        try (UnixSocketFd fd = UnixSocketFd.connect(socket)) {
            KernelHandshake.negotiate(fd, attachment.blockSize(), kernelTimeoutSeconds);
            NbdKernel.replaceDeadConnections(device, attachment, deadConnTimeoutSeconds, fd);
            LOG.warning("the kernel dropped a connection to " + device
                    + " (a request unanswered for " + kernelTimeoutSeconds + " s?); reconnected");
        } catch (Exception e) {
            LOG.warning("could not replace a dead connection to " + device + ": " + e.getMessage());
        }
    }

    /** Stops everything once, in order: the local device, then the server, then the volume. */
    static final class Teardown implements Runnable {
        private final NbdServer server;
        private final AutoCloseable volume;
        private final Path privateDir;
        private Runnable first = () -> { };
        private boolean done;

        Teardown(NbdServer server, AutoCloseable volume, Path privateDir) {
            this.server = server;
            this.volume = volume;
            this.privateDir = privateDir;
        }

        synchronized void before(Runnable step) {
            first = step;
        }

        synchronized boolean stopping() {
            return done;
        }

        @Override
        public synchronized void run() {
            if (done) {
                return;
            }
            done = true;
            first.run();
            server.close();
            try {
                volume.close();
            } catch (Exception e) {
                System.err.println("nbdvault: warning: error while closing the volume: " + e.getMessage());
            }
            try {
                Files.deleteIfExists(privateDir.resolve("nbd.sock"));
                Files.deleteIfExists(privateDir.resolve("nbdfuse.pid"));
                Files.deleteIfExists(privateDir);
            } catch (java.io.IOException e) {
                LOG.warning("could not remove " + privateDir + ": " + e.getMessage());
            }
            System.err.println("nbdvault: detached cleanly");
        }
    }
}
