package io.nbdvault.cli;

import io.nbdvault.cli.admin.AdminServer;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.LayerLatencies;
import io.nbdvault.core.TimedDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksVolume;
import io.nbdvault.nativeshim.ProcessHardening;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The replicated, encrypted volume as serve and attach both open it: members reached (or the
 * embedded default created), the array assembled, the LUKS volume unlocked with the key locked in
 * memory, and the admin socket answering. Closing undoes all of it, flushing first.
 */
final class AssembledVolume implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(AssembledVolume.class.getName());

    /** The options serve and attach share for a replicated volume (besides the members). */
    static final class Options {
        @Mixin
        KeyOptions key;

        @Mixin
        ReplicaOptions replicas;

        @Option(names = "--force", description = "Assemble despite a split brain (the newest side wins) or another server's lease on the members.")
        boolean force;

        @Option(names = "--resync-rate", paramLabel = "SIZE", converter = SizeConverter.class,
                description = "Bytes per second a resync may copy, like md's speed_limit_max (default: unlimited).")
        long resyncRate;

        @Option(names = "--bitmap-delay", paramLabel = "SECONDS",
                description = "Idle time before a write-intent bitmap region is cleared, like mdadm's --delay (default 5).")
        int bitmapDelay = 5;

        @Option(names = "--queue-timeout", paramLabel = "SECONDS",
                description = "When a group has lost every copy, requests wait this long for one to come back (default 30; 0: fail at once).")
        int queueTimeout = 30;

        @Option(names = "--write-quorum", paramLabel = "N",
                description = "Acknowledge writes and flushes once N up-to-date copies have them (default: every copy); the others follow.")
        int writeQuorum;

        @Option(names = "--max-lag", paramLabel = "SIZE", converter = SizeConverter.class,
                description = "With --write-quorum: how far a copy may fall behind before writes wait for it (default 64M).")
        long maxLag = io.nbdvault.replication.ArrayOptions.DEFAULT_MAX_LAG;

        @Option(names = "--data-dir", paramLabel = "DIR", description = "Folder of the embedded default (default ./nbdvault-data).")
        Path dataDir = Path.of("nbdvault-data");

        @Option(names = "--admin-socket", paramLabel = "PATH",
                description = "Admin socket for status/fail (default: DIR/admin.sock for the embedded default, else SOCKET.admin or $XDG_RUNTIME_DIR/nbdvault-ARRAY.admin).")
        Path adminSocket;
    }

    private final ReplicatedArray array;
    private final LuksVolume volume;
    /** The plaintext device, timed as layer "encryption" (AES-XTS and everything below it). */
    private final BlockDevice plaintext;
    private final LayerLatencies latencies;
    private final TransportContext context;
    private final AdminServer admin;
    private final Path adminPath;
    private final int memberCount;
    private final boolean embedded;

    private AssembledVolume(ReplicatedArray array, LuksVolume volume, LayerLatencies latencies, TransportContext context,
                            AdminServer admin, Path adminPath, int memberCount, boolean embedded) {
        this.array = array;
        this.volume = volume;
        this.latencies = latencies;
        this.plaintext = new TimedDevice(volume.plaintext(), latencies, "encryption");
        this.context = context;
        this.admin = admin;
        this.adminPath = adminPath;
        this.memberCount = memberCount;
        this.embedded = embedded;
    }

    /**
     * Opens the volume on {@code members}, or the embedded default when there are none.
     * {@code defaultAdmin} names the admin socket from the array id when neither --admin-socket nor
     * the embedded default decides it.
     */
    static AssembledVolume open(List<String> members, Options o, Function<String, Path> defaultAdmin) throws Exception {
        ProcessHardening.makeNonDumpable();
        boolean embedded = members.isEmpty();
        KeyOptions keys = o.key;
        if (embedded) {
            EmbeddedDefault setup = EmbeddedDefault.prepare(o.dataDir);
            members = setup.members();
            keys = setup.keyOptions();
        }
        TransportContext context = o.replicas.context();
        ReplicatedArray array;
        try {
            array = ArrayAssembler.assemble(context, members, o.replicas,
                    o.replicas.arrayOptions(context, o.force, o.resyncRate)
                            .withBitmapIdle(java.time.Duration.ofSeconds(Math.max(1, o.bitmapDelay)))
                            .withQueueTimeout(java.time.Duration.ofSeconds(Math.max(0, o.queueTimeout)))
                            .withWriteQuorum(Math.max(0, o.writeQuorum), o.maxLag));
        } catch (Exception e) {
            context.close();
            throw e;
        }
        // Per-layer latency for status: "encryption" above the LUKS layer (see plaintext), "array" below
        // it (stripe, mirror and replicas), the replicas' own in the array's status; "nbd" is the server's.
        LayerLatencies latencies = new LayerLatencies();
        for (String layer : new String[] {"nbd", "encryption", "array"}) {
            latencies.meter(layer, "read"); // layers are listed in order of first use: top-down
        }
        LuksVolume volume;
        try (Passphrase passphrase = keys.read("Enter passphrase", false)) {
            volume = Luks.open(new TimedDevice(array.volume(), latencies, "array"), passphrase);
        } catch (Exception e) {
            array.close();
            context.close();
            throw e;
        }
        try {
            // With integrity: checks and tags from here on, and the regions a crash left marked settled first.
            array.enableIntegrity(volume.keyBuffer());
        } catch (Exception e) {
            volume.close();
            array.close();
            context.close();
            throw e;
        }
        ProcessHardening.LockResult lock = ProcessHardening.lock(volume.keyBuffer());
        if (!lock.locked()) {
            LOG.warning(lock.warning());
        }
        Path adminPath = o.adminSocket != null ? o.adminSocket
                : embedded ? o.dataDir.resolve("admin.sock")
                : defaultAdmin.apply(array.id().toString());
        AdminServer admin;
        try {
            admin = AdminServer.start(adminPath, array, latencies, context::remember);
        } catch (Exception e) {
            volume.close();
            array.close();
            context.close();
            throw e;
        }
        return new AssembledVolume(array, volume, latencies, context, admin, adminPath, members.size(), embedded);
    }

    /** The admin socket from the array id, in $XDG_RUNTIME_DIR (or /tmp). */
    static Path runtimeAdminSocket(String arrayId) {
        return Path.of(System.getenv().getOrDefault("XDG_RUNTIME_DIR", "/tmp"), "nbdvault-" + arrayId + ".admin");
    }

    BlockDevice plaintext() {
        return plaintext;
    }

    /** The layers' latency meters; give them to the NBD server so its requests show as layer "nbd". */
    LayerLatencies latencies() {
        return latencies;
    }

    /** The loops the replicas are connected on, open until close: the NBD server should run on them too. */
    io.netty.channel.EventLoopGroup eventLoops() {
        return context.eventLoops();
    }

    ReplicatedArray array() {
        return array;
    }

    Path adminPath() {
        return adminPath;
    }

    boolean embedded() {
        return embedded;
    }

    /** "array ID (state, N members, SIZE bytes)" for log lines. */
    String describe() {
        return "array " + array.id() + " (" + array.status().state().toString().toLowerCase() + ", " + memberCount
                + " members, " + plaintext.size() + " bytes)";
    }

    /**
     * Closes the admin socket, the key and the array; the array's close waits for every write to
     * settle and flushes every copy. Not flushed from the top: that flush would go through the
     * outage queue and, with every copy gone, wait out the whole --queue-timeout.
     */
    @Override
    public void close() {
        admin.close();
        ProcessHardening.unlock(volume.keyBuffer());
        volume.close();
        array.close();
        context.close();
    }
}
