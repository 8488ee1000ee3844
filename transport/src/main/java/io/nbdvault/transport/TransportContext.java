package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.IoThreads;
import io.nbdvault.transport.iscsi.ChapSecrets;
import io.nbdvault.transport.iscsi.IscsiSessions;
import io.nbdvault.transport.iscsi.IscsiTarget;
import io.nbdvault.transport.nbd.NbdClientDevice;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.nbdvault.nbd.server.OrderlyShutdown;
import io.nbdvault.nbd.server.SocketTransport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import io.nbdvault.transport.nbd.TlsClient;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/** Opens replicas by URI and owns the event loops their connections share. */
public final class TransportContext implements AutoCloseable {
    /**
     * The kernel send buffer asked for on each connection to a unix-socket replica (Linux doubles it,
     * after capping it at net.core.wmem_max). The default, net.core.wmem_default (208 KiB on most
     * systems), holds less than one 512 KiB chunk: every large write stalled until the replica had read
     * part of it, and the event loop slept and was woken again for each stall. With 2 MiB, 1 MiB writes
     * to three nbdkit replicas ran at 1.06-1.07x the IOPS for 0.91-0.96x the server's CPU and 0.9x the
     * replicas' per request, and 64 KiB mixed I/O at 1.08x (A/B, same jar); reads did not change.
     * Not over TCP: a fixed SO_SNDBUF turns off Linux's send-buffer autotuning, which on a long fast link
     * to a remote replica grows the buffer further than this (up to net.ipv4.tcp_wmem's maximum).
     */
    static final int UNIX_REPLICA_SEND_BUFFER = 2 << 20;
    /** How long {@link #close} waits for the connections to close, and then for their loops to settle. */
    private static final long CLOSE_MILLIS = 2000;

    private final EventLoopGroup group;
    /** Every connection this context made that is still open (a closed channel leaves by itself). */
    private final ChannelGroup connections = new DefaultChannelGroup("replica connections", GlobalEventExecutor.INSTANCE);
    private final AtomicBoolean closing = new AtomicBoolean();
    private final SocketTransport transport;
    private final NbdClientOptions options;
    private final Function<Path, FileSpace> fileSpaces;
    private final SslContext tls;
    private final ChapSecrets chapSecrets;
    private final java.util.Map<String, String> withSecrets = new java.util.concurrent.ConcurrentHashMap<>();
    private final IscsiSessions iscsiSessions = new IscsiSessions();

    public TransportContext(NbdClientOptions options, Function<Path, FileSpace> fileSpaces) {
        this(options, fileSpaces, null);
    }

    /** With {@code tls} (trust and optional client key), nbds:// and nbds+unix:// replicas can be opened. */
    public TransportContext(NbdClientOptions options, Function<Path, FileSpace> fileSpaces, SslContext tls) {
        this(options, fileSpaces, tls, ChapSecrets.NONE);
    }

    /** With CHAP secrets (--replica-chap-file) for iscsi:// members that do not carry their own. */
    public TransportContext(NbdClientOptions options, Function<Path, FileSpace> fileSpaces, SslContext tls,
                            ChapSecrets chapSecrets) {
        this(options, fileSpaces, tls, chapSecrets, IoThreads.perGroup());
    }

    /** As above, with {@code ioThreads} event loops instead of {@link IoThreads#perGroup()}. */
    public TransportContext(NbdClientOptions options, Function<Path, FileSpace> fileSpaces, SslContext tls,
                            ChapSecrets chapSecrets, int ioThreads) {
        this(options, fileSpaces, tls, chapSecrets, ioThreads, SocketTransport.chosen());
    }

    /** As above, on {@code transport}'s event loops instead of the process's {@link SocketTransport#chosen()}. */
    public TransportContext(NbdClientOptions options, Function<Path, FileSpace> fileSpaces, SslContext tls,
                            ChapSecrets chapSecrets, int ioThreads, SocketTransport transport) {
        this.chapSecrets = chapSecrets;
        this.tls = tls;
        this.transport = transport;
        this.group = transport.newEventLoops(ioThreads);
        this.options = options;
        this.fileSpaces = fileSpaces;
    }

    /**
     * The event loops the replicas' connections run on, until {@link #close}. An NBD server serving a
     * volume built on these replicas should run on them too ({@code NbdServer.Builder#eventLoops}):
     * a small request is then answered on the thread that received it (see {@link NbdClientDevice}).
     */
    public EventLoopGroup eventLoops() {
        return group;
    }

    /**
     * The name a member typed as {@code uri} goes by ({@link ReplicaUri#redact}: no secret), the secret
     * remembered so that the name opens with it; a secret given anew (a replace typed by the
     * administrator) replaces the one seen before.
     */
    public String remember(String uri) {
        String shown = ReplicaUri.redact(uri);
        if (!shown.equals(uri)) {
            withSecrets.put(shown, uri);
        }
        return shown;
    }

    /**
     * Opens a replica. A URI with a secret in it may later be given back in its redacted form
     * ({@link ReplicaUri#redact}, what members are named by, so no secret reaches logs, status or
     * metadata): it is then opened with the secret this context saw first.
     */
    public CompletableFuture<BlockDevice> open(String name) {
        String uri = withSecrets.getOrDefault(name, name);
        String shown = ReplicaUri.redact(uri);
        if (!shown.equals(uri)) {
            withSecrets.putIfAbsent(shown, uri);
        }
        ReplicaUri r;
        try {
            r = ReplicaUri.parse(uri);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        TlsClient link = null;
        if (r.tls()) {
            if (tls == null) {
                return CompletableFuture.failedFuture(new IllegalArgumentException(
                        "a TLS replica (" + ReplicaUri.redact(uri) + ") needs --replica-ca, the CA that signed its certificate"));
            }
            // Over a unix socket there is no host name in the URI: the certificate must name localhost.
            link = new TlsClient(tls, r.host() != null ? r.host() : "localhost", r.port());
        }
        TlsClient secure = link;
        return switch (r.kind()) {
            case FILE -> {
                try {
                    yield CompletableFuture.completedFuture(FileDevice.open(r.file(), false, -1, fileSpaces.apply(r.file())));
                } catch (IOException e) {
                    yield CompletableFuture.failedFuture(e);
                }
            }
            case NBD_TCP -> connect(bootstrap(transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true), new InetSocketAddress(r.host(), r.port()), uri, r.export(), secure);
            case NBD_UNIX -> {
                try {
                    transport.requireUnixSockets();
                } catch (IOException e) {
                    yield CompletableFuture.failedFuture(e);
                }
                yield connect(unixReplicaBootstrap(), new DomainSocketAddress(r.socket().toFile()), uri, r.export(), secure);
            }
            case ISCSI -> {
                IscsiTarget target;
                try {
                    target = chapSecrets.apply(r.iscsi());
                } catch (IllegalArgumentException e) {
                    yield CompletableFuture.failedFuture(e);
                }
                yield iscsiSessions.open(bootstrap(transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                            (int) Math.min(Integer.MAX_VALUE, options.requestTimeout().toMillis())),
                        target, options).thenApply(d -> d);
            }
        };
    }

    /** How a connection to a unix-socket replica is made (package-private for the test of its send buffer). */
    Bootstrap unixReplicaBootstrap() {
        return bootstrap(transport.domainSocketChannel())
                .option(ChannelOption.SO_SNDBUF, UNIX_REPLICA_SEND_BUFFER);
    }

    /**
     * Connections of {@code type} on this context's event loops, each one entered in {@link #connections}
     * as it is made: the factory is kept by every clone the transports make of the bootstrap (to set their
     * own handlers), reconnections included.
     */
    private Bootstrap bootstrap(Class<? extends Channel> type) {
        ChannelFactory<Channel> made = new ReflectiveChannelFactory<>(type);
        return new Bootstrap().group(group).channelFactory(() -> {
            Channel ch = made.newChannel();
            connections.add(ch);
            // Added first, checked second: either close() finds it among the connections or this sees closing.
            if (closing.get()) {
                connections.remove(ch);
                ch.unsafe().closeForcibly(); // not registered yet: nothing but its socket to close
                throw new IllegalStateException("the replica connections are closed");
            }
            return ch;
        });
    }

    private CompletableFuture<BlockDevice> connect(Bootstrap b, java.net.SocketAddress address, String uri, String export,
                                                   TlsClient link) {
        return NbdClientDevice.connect(b.option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.min(Integer.MAX_VALUE, options.requestTimeout().toMillis())), address, uri, export, options, link)
                .thenApply(d -> d);
    }

    /**
     * Closes the connections still open, lets their loops run what the closes queued, then stops the
     * loops ({@link OrderlyShutdown}: the loops' own shutdown can close a connection too late to
     * release what its decoder holds). A second close only waits for the loops to stop.
     */
    @Override
    public void close() {
        if (closing.compareAndSet(false, true)) { // no new connection, such as a reconnection, from here on
            OrderlyShutdown.closeThenStop(connections, group, CLOSE_MILLIS);
        } else {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
