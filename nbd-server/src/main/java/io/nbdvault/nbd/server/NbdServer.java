package io.nbdvault.nbd.server;

import io.nbdvault.core.IoThreads;
import io.nbdvault.core.LayerLatencies;

import io.nbdvault.nbd.codec.HandshakeDecoder;
import io.nbdvault.nbd.codec.ServerEncoder;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * An NBD server (fixed newstyle) over TCP and/or a unix socket, serving one or more exports.
 * The first export is also served under the empty (default) name.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(NbdServer.class.getName());
    private static final long DRAIN_TIMEOUT_SECONDS = 30;

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    /** False when the workers were lent by the caller ({@link Builder#eventLoops}), who shuts them down. */
    private final boolean ownsWorkers;
    private final List<Channel> listeners;
    private final ServerConnections connections;
    private final InetSocketAddress tcpAddress;
    private final Path unixSocket;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private NbdServer(EventLoopGroup boss, EventLoopGroup workers, boolean ownsWorkers, List<Channel> listeners,
                      ServerConnections connections, InetSocketAddress tcpAddress, Path unixSocket) {
        this.boss = boss;
        this.workers = workers;
        this.ownsWorkers = ownsWorkers;
        this.listeners = listeners;
        this.connections = connections;
        this.tcpAddress = tcpAddress;
        this.unixSocket = unixSocket;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The bound TCP address (with the real port when 0 was asked), or null when serving only a unix socket. */
    /** The latencies this server's connections record: layer "nbd", per request type, from a request read to its reply written. */
    public LayerLatencies latencies() {
        return connections.latencies;
    }

    public InetSocketAddress tcpAddress() {
        return tcpAddress;
    }

    public Path unixSocket() {
        return unixSocket;
    }

    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    /** Stops accepting, lets connections finish the requests they started, then releases everything. */
    @Override
    public void close() {
        if (closed.isDone()) {
            return;
        }
        for (Channel listener : listeners) {
            listener.close().syncUninterruptibly();
        }
        connections.drainAll();
        if (!connections.channels().newCloseFuture().awaitUninterruptibly(DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            LOG.warning("connections did not finish within " + DRAIN_TIMEOUT_SECONDS + " s; closing them");
            connections.channels().close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        if (ownsWorkers) {
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (unixSocket != null) {
            try {
                Files.deleteIfExists(unixSocket);
            } catch (IOException e) {
                LOG.warning("could not remove socket " + unixSocket + ": " + e.getMessage());
            }
        }
        closed.complete(null);
    }

    public static final class Builder {
        private final List<NbdExport> exports = new ArrayList<>();
        private String tcpHost;
        private int tcpPort = -1;
        private Path unixSocket;
        private TlsConfig tls = TlsConfig.off();
        private long handshakeTimeoutMillis = 30_000;
        private EventLoopGroup eventLoops;
        private long inFlightBytes = InFlightBudget.DEFAULT_BYTES;
        private LayerLatencies latencies = new LayerLatencies();

        private Builder() {
        }

        /** Where to record request latencies (layer "nbd", per request type); default: a private set. */
        public Builder latencies(LayerLatencies latencies) {
            this.latencies = java.util.Objects.requireNonNull(latencies);
            return this;
        }

        public Builder export(NbdExport export) {
            exports.add(export);
            return this;
        }

        public Builder listenTcp(String host, int port) {
            this.tcpHost = host;
            this.tcpPort = port;
            return this;
        }

        public Builder listenUnix(Path socket) {
            this.unixSocket = socket;
            return this;
        }

        public Builder tls(TlsConfig tls) {
            this.tls = tls;
            return this;
        }

        /** How long a client may take to pick an export before it is disconnected. */
        public Builder handshakeTimeoutMillis(long millis) {
            this.handshakeTimeoutMillis = millis;
            return this;
        }

        /**
         * Bytes of READ and WRITE requests in flight across all connections (default 512 MiB);
         * past it, connections stop reading until requests finish.
         */
        public Builder maxInFlightBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("the in-flight limit must be positive");
            }
            this.inFlightBytes = bytes;
            return this;
        }

        /**
         * Runs the connections on {@code group}, lent by the caller, who shuts it down after closing
         * the server; without it the server has its own, {@link IoThreads#perGroup()} loops. Lend it
         * the loops the exported device's replicas are connected on, so that a request is answered
         * on the thread that received it, with no hand-off to a replica's thread and back.
         */
        public Builder eventLoops(EventLoopGroup group) {
            this.eventLoops = group;
            return this;
        }

        public NbdServer start() throws IOException {
            if (exports.isEmpty()) {
                throw new IllegalStateException("an NBD server needs at least one export");
            }
            if (tcpPort < 0 && unixSocket == null) {
                throw new IllegalStateException("an NBD server needs a TCP address or a unix socket to listen on");
            }
            Exports table = new Exports(exports);
            SslContext ssl = tls.newServerContext();
            SocketTransport transport = eventLoops != null ? SocketTransport.of(eventLoops) : SocketTransport.chosen();
            if (unixSocket != null) {
                transport.requireUnixSockets();
            }
            EventLoopGroup boss = transport.newEventLoops(1);
            boolean ownsWorkers = eventLoops == null;
            EventLoopGroup workers = ownsWorkers ? transport.newEventLoops(IoThreads.perGroup()) : eventLoops;
            ServerConnections connections = new ServerConnections(inFlightBytes, latencies);
            List<Channel> listeners = new ArrayList<>();
            try {
                ChannelInitializer<Channel> init = new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline()
                                .addLast("flush", new FlushConsolidationHandler(64, true))
                                .addLast("encoder", new ServerEncoder())
                                .addLast("decoder", new HandshakeDecoder())
                                .addLast("handshake", new HandshakeHandler(table, ssl, tls.mode(),
                                        handshakeTimeoutMillis, connections));
                    }
                };
                InetSocketAddress bound = null;
                if (tcpPort >= 0) {
                    Class<? extends ServerChannel> type = transport.serverSocketChannel();
                    Channel ch = bootstrap(boss, workers, type, init)
                            .childOption(ChannelOption.TCP_NODELAY, true)
                            .bind(tcpHost, tcpPort).syncUninterruptibly().channel();
                    listeners.add(ch);
                    bound = (InetSocketAddress) ch.localAddress();
                }
                if (unixSocket != null) {
                    listeners.add(UnixSocketBinder.bind(unixSocket, path ->
                            bootstrap(boss, workers, transport.serverDomainSocketChannel(), init)
                                    .bind(new DomainSocketAddress(path.toFile())).syncUninterruptibly().channel()));
                }
                return new NbdServer(boss, workers, ownsWorkers, listeners, connections, bound, unixSocket);
            } catch (IOException | RuntimeException e) {
                listeners.forEach(Channel::close);
                boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
                if (ownsWorkers) {
                    workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
                }
                if (e instanceof IOException io) {
                    throw io;
                }
                throw new IOException("cannot listen: " + e.getMessage(), e);
            }
        }

        private static ServerBootstrap bootstrap(EventLoopGroup boss, EventLoopGroup workers,
                                                 Class<? extends ServerChannel> type, ChannelInitializer<Channel> init) {
            return new ServerBootstrap().group(boss, workers).channel(type)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 << 20, 32 << 20))
                    .childHandler(init);
        }
    }
}
