package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksVolume;
import io.nbdvault.nativeshim.ProcessHardening;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Logger;

/**
 * {@code nbdvault serve}: assemble a replicated array, unlock it, and export the plaintext over NBD.
 * With no MEMBER it runs the embedded default: three file replicas under ./nbdvault-data.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Assemble a replicated, encrypted volume and serve it over NBD until interrupted.",
                "Without MEMBERs: the embedded default (./nbdvault-data, created on first run)."})
public final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Mixin
    ListenOptions listen;

    @Mixin
    KeyOptions key;

    @Mixin
    ReplicaOptions replicas;

    @Option(names = "--name", paramLabel = "NAME", description = "Export name (default: empty).")
    String name = "";

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
            description = "Admin socket for status/fail (default: DIR/admin.sock, or SOCKET.admin next to --socket).")
    Path adminSocket;

    @Parameters(arity = "0..*", paramLabel = "MEMBER", description = "Members as given to create, in any order.")
    List<String> members = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        ProcessHardening.makeNonDumpable();
        boolean embedded = members.isEmpty();
        KeyOptions keys = key;
        if (embedded) {
            EmbeddedDefault setup = EmbeddedDefault.prepare(dataDir);
            members = setup.members();
            keys = setup.keyOptions();
        }
        TransportContext context = replicas.context();
        ReplicatedArray array;
        LuksVolume volume;
        List<Member> opened = List.of();
        try {
            ReplicaOptions.Opened reached = ReplicaOptions.openReachable(context, members);
            opened = reached.reachable();
            if (opened.isEmpty()) {
                throw new java.io.IOException("no member could be reached");
            }
            array = ReplicatedArray.assemble(opened, reached.unreachable(),
                    replicas.arrayOptions(context, force, resyncRate)
                            .withBitmapIdle(java.time.Duration.ofSeconds(Math.max(1, bitmapDelay)))
                            .withQueueTimeout(java.time.Duration.ofSeconds(Math.max(0, queueTimeout)))
                            .withWriteQuorum(Math.max(0, writeQuorum), maxLag));
        } catch (Exception e) {
            opened.forEach(m -> m.device().close());
            context.close();
            throw e;
        }
        try (Passphrase passphrase = keys.read("Enter passphrase", false)) {
            volume = Luks.open(array.volume(), passphrase);
        } catch (Exception e) {
            array.close();
            context.close();
            throw e;
        }
        ProcessHardening.LockResult lock = ProcessHardening.lock(volume.keyBuffer());
        if (!lock.locked()) {
            LOG.warning(lock.warning());
        }
        ReplicatedArray assembled = array;
        LuksVolume unlocked = volume;
        Path adminPath = adminSocket != null ? adminSocket
                : embedded ? dataDir.resolve("admin.sock")
                : listen.socket != null ? Path.of(listen.socket + ".admin")
                : Path.of(System.getenv().getOrDefault("XDG_RUNTIME_DIR", "/tmp"), "nbdvault-" + array.id() + ".admin");
        io.nbdvault.cli.admin.AdminServer admin;
        try {
            admin = io.nbdvault.cli.admin.AdminServer.start(adminPath, array);
        } catch (Exception e) {
            volume.close();
            array.close();
            context.close();
            throw e;
        }
        AutoCloseable shutdown = () -> {
            admin.close();
            ProcessHardening.unlock(unlocked.keyBuffer());
            unlocked.close();
            assembled.close();
            context.close();
        };
        NbdServer server;
        try {
            server = listen.applyTo(NbdServer.builder().export(new NbdExport(name, "nbdvault array " + array.id(),
                    volume.plaintext(), false))).start();
        } catch (Exception e) {
            shutdown.close();
            throw e;
        }
        String where = listen.describe(server, name, listen.tlsEnabled());
        String state = array.status().state().toString().toLowerCase();
        String hint = embedded ? " — try: nbdinfo " + where.split("  ")[0]
                + " ; or nbdfuse DIR/disk " + where.split("  ")[0] + " & mkfs.ext4 DIR/disk && mount -o loop DIR/disk MNT" : "";
        return ServeUntilSignalled.run(server, shutdown, "serving array " + array.id() + " (" + state + ", "
                + members.size() + " members, " + volume.plaintext().size() + " bytes) at " + where
                + "; admin socket " + adminPath + hint);
    }
}
