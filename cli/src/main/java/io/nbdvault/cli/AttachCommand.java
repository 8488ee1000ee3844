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
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code nbdvault attach}: make a target a local disk. With the kernel's nbd driver it becomes
 * /dev/nbdN (no nbd-client needed); without it, --fuse shows it as a file through nbdfuse, ready
 * for mount -o loop. Runs until SIGTERM/SIGINT or until the device is detached.
 */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = {"Attach a target as /dev/nbdN, or as a file under DIR with --fuse.",
                "Stops (flushing everything) on SIGTERM/SIGINT or `nbdvault detach`."},
        footer = {"", "Examples:", "  nbdvault attach /dev/nbd0 --key-file key disk.img",
                "  nbdvault attach --fuse /mnt/vault memory:1G   # then: mount -o loop /mnt/vault/nbdvault /mnt/x"})
public final class AttachCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(AttachCommand.class.getName());

    @Option(names = "--fuse", paramLabel = "DIR", description = "Expose the volume as DIR/nbdvault via nbdfuse instead.")
    Path fuseDir;

    @Parameters(arity = "1..2", paramLabel = "[/dev/nbdN] TARGET",
            description = "The kernel NBD device (not with --fuse), then a file, block device or memory:SIZE.")
    java.util.List<String> positional;

    private Path device;
    private String target;

    @Mixin
    KeyOptions key;

    @Option(names = "--encrypted", description = "TARGET is a LUKS volume (implied by --key-file/--key-fd).")
    boolean encrypted;

    @Option(names = "--read-only", description = "Attach read-only.")
    boolean readOnly;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Kernel request timeout (default 30).")
    int timeoutSeconds = 30;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        if (fuseDir != null ? positional.size() != 1 : positional.size() != 2) {
            throw new IllegalArgumentException(fuseDir != null ? "with --fuse give only TARGET"
                    : "give the device and the target: attach /dev/nbdN TARGET (or attach --fuse DIR TARGET)");
        }
        device = fuseDir == null ? Path.of(positional.get(0)) : null;
        target = positional.get(positional.size() - 1);
        String what = target;
        if (fuseDir == null) {
            NbdKernel.requireDriver(device); // fail before unlocking anything
        }
        BlockDevice raw = Targets.open(what, readOnly);
        OpenedVolume volume;
        try {
            volume = encrypted || key.given() ? OpenedVolume.unlock(raw, key) : OpenedVolume.plain(raw);
        } catch (Exception e) {
            raw.close();
            throw e;
        }
        Path privateDir = Files.createTempDirectory("nbdvault-attach-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path socket = privateDir.resolve("nbd.sock");
        NbdServer server = NbdServer.builder()
                .export(new NbdExport("", what, volume.device(), readOnly)).listenUnix(socket).start();
        Teardown teardown = new Teardown(server, volume, privateDir);
        Runtime.getRuntime().addShutdownHook(new Thread(teardown::run, "detach"));
        try {
            CompletableFuture<Void> detached = fuseDir != null
                    ? FuseAttachment.start(fuseDir, socket, teardown)
                    : kernel(device, socket, teardown);
            detached.get();
        } finally {
            teardown.run();
        }
        return 0;
    }

    private CompletableFuture<Void> kernel(Path device, Path socket, Teardown teardown) throws Exception {
        UnixSocketFd fd = UnixSocketFd.connect(socket);
        NbdKernel.Attachment attachment = KernelHandshake.negotiate(fd, 4096, timeoutSeconds);
        CompletableFuture<Void> done = NbdKernel.attach(device, fd, attachment);
        teardown.before(() -> {
            try {
                NbdKernel.disconnect(device);
                done.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warning("disconnecting " + device + ": " + e.getMessage());
            }
            fd.close();
        });
        LOG.info("attached " + target + " as " + device + " (" + attachment.size() + " bytes)");
        return done;
    }

    /** Stops everything once, in order: the local device, then the server, then the volume. */
    static final class Teardown implements Runnable {
        private final NbdServer server;
        private final OpenedVolume volume;
        private final Path privateDir;
        private Runnable first = () -> { };
        private boolean done;

        Teardown(NbdServer server, OpenedVolume volume, Path privateDir) {
            this.server = server;
            this.volume = volume;
            this.privateDir = privateDir;
        }

        synchronized void before(Runnable step) {
            first = step;
        }

        @Override
        public synchronized void run() {
            if (done) {
                return;
            }
            done = true;
            first.run();
            server.close();
            volume.close();
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
