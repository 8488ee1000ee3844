package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.ReplicaUri;
import io.nbdvault.transport.TransportContext;
import io.nbdvault.transport.iscsi.ChapSecrets;
import io.nbdvault.transport.nbd.NbdClientOptions;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** How replicas are reached: shared by create and serve. */
public final class ReplicaOptions {
    @Option(names = "--timeout", paramLabel = "MS", description = "A replica that takes longer than this to answer is failed (default 10000).")
    long timeoutMillis = 10_000;

    @Option(names = "--connections", paramLabel = "N",
            description = "Connections per NBD replica that allows multi-conn (default: one per I/O thread, one thread per core).")
    int connections = 0;

    @Option(names = "--replica-ca", paramLabel = "FILE",
            description = "PEM CA certificate(s) that sign the replicas' certificates: needed for nbds:// and nbds+unix:// members.")
    Path tlsCa;

    @Option(names = "--replica-cert", paramLabel = "FILE", description = "PEM client certificate, for replicas that verify clients.")
    Path tlsCert;

    @Option(names = "--replica-key", paramLabel = "FILE", description = "PEM (PKCS#8) key of --replica-cert.")
    Path tlsKey;

    @Option(names = "--replica-chap-file", paramLabel = "FILE",
            description = "CHAP secrets for iscsi:// members (mode 0600), one line each: TARGET-IQN|* USER SECRET "
                    + "[TARGET-USER TARGET-SECRET]. Also LIBISCSI_CHAP_PASSWORD, as libiscsi.")
    Path chapFile;

    TransportContext context() throws IOException {
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofMillis(timeoutMillis))
                .withConnections(connections), path -> NativeSupport.fileSpace(path, false), tls(),
                chapFile == null ? ChapSecrets.NONE : ChapSecrets.read(chapFile));
    }

    /** The TLS client context for nbds:// members; null when no CA is given (then they are refused). */
    private io.netty.handler.ssl.SslContext tls() throws IOException {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--replica-cert and --replica-key go together");
        }
        if (tlsCa == null) {
            if (tlsCert != null) {
                throw new IllegalArgumentException("--replica-cert needs --replica-ca too");
            }
            return null;
        }
        try {
            io.netty.handler.ssl.SslContextBuilder b = io.netty.handler.ssl.SslContextBuilder.forClient()
                    .trustManager(tlsCa.toFile());
            if (tlsCert != null) {
                b.keyManager(tlsCert.toFile(), tlsKey.toFile());
            }
            return b.build();
        } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
            throw new IOException("cannot use the TLS files (" + tlsCa + (tlsCert != null ? ", " + tlsCert : "") + "): "
                    + e.getMessage(), e);
        }
    }

    /** Array options for members reached through {@code context}: failed and new members are (re)opened by name. */
    /** The deadline of each request to a member (--timeout). */
    Duration timeout() {
        return Duration.ofMillis(timeoutMillis);
    }

    ArrayOptions arrayOptions(TransportContext context, boolean force, long resyncBytesPerSecond) {
        return new ArrayOptions(Duration.ofMillis(timeoutMillis), resyncBytesPerSecond, force)
                .withOpener(context::open);
    }

    /** Members that answered, and the names of those that did not (probed later by the running array). */
    record Opened(List<Member> reachable, List<String> unreachable) {
    }

    /**
     * Opens what it can; a member that cannot be opened now is left out with a warning, so the
     * array assembles degraded instead of not at all (as md does), and joins when it answers.
     */
    static Opened openReachable(TransportContext context, List<String> uris) {
        List<Member> members = new ArrayList<>();
        List<String> unreachable = new ArrayList<>();
        for (String uri : uris) {
            try {
                // Members are named without their secrets: the name reaches logs, status and metadata.
                String name = ReplicaUri.redact(uri);
                members.add(new Member(name, ReplicatedArrayJoin.join(context.open(uri), name)));
            } catch (IOException e) {
                java.util.logging.Logger.getLogger(ReplicaOptions.class.getName())
                        .warning("leaving out unreachable member " + e.getMessage() + "; it joins when it answers");
                unreachable.add(ReplicaUri.redact(uri));
            }
        }
        return new Opened(members, unreachable);
    }

    /** Opens every member; file members that do not exist yet are created sparse when {@code createSize} > 0. */
    static List<Member> open(TransportContext context, List<String> uris, long createSize) throws IOException {
        List<Member> members = new ArrayList<>();
        try {
            for (String uri : uris) {
                if (createSize > 0 && !uri.contains("://") && !Files.exists(Path.of(uri))) {
                    // 0600 from the start: ciphertext and key slots are enough for an offline guessing attack.
                    Files.createFile(Path.of(uri), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
                    try (RandomAccessFile f = new RandomAccessFile(uri, "rw")) {
                        f.setLength(createSize);
                    }
                }
                String name = ReplicaUri.redact(uri);
                BlockDevice d = ReplicatedArrayJoin.join(context.open(uri), name);
                members.add(new Member(name, d));
            }
            return members;
        } catch (IOException | RuntimeException e) {
            members.forEach(m -> m.device().close());
            throw e;
        }
    }
}
