package io.nbdvault.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nbdvault.core.LayerLatencies;
import io.nbdvault.replication.ArrayStatus;
import io.nbdvault.replication.ReplicatedArray;
import io.netty.bootstrap.ServerBootstrap;
import io.nbdvault.nbd.server.OrderlyShutdown;
import io.nbdvault.nbd.server.UnixSocketBinder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.nbdvault.nbd.server.SocketTransport;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The running server's control socket: one JSON request per line, one JSON answer per line.
 * Unix socket only, mode 0600, so only the owner (and root) can manage the array.
 * Requests: {"command":"status"}, {"command":"fail","member":"NAME"}, {"command":"re-add","member":"NAME"},
 * {"command":"replace","member":"OLD","with":"NEW","rate":BYTES_PER_SECOND,"force":BOOL}, {"command":"scrub","repair":BOOL};
 * "fail" takes "force" too.
 */
public final class AdminServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_LINE = 64 * 1024;

    private final EventLoopGroup group;
    private final Channel channel;
    /** The clients connected now (status, add, replace…): closed before the loop stops. */
    private final ChannelGroup clients;
    private final Path path;

    private AdminServer(EventLoopGroup group, Channel channel, ChannelGroup clients, Path path) {
        this.group = group;
        this.channel = channel;
        this.clients = clients;
        this.path = path;
    }

    /**
     * Listens on {@code path} as the export socket does ({@link UnixSocketBinder}): bound inside a
     * private directory, made 0600, then renamed into place, so no other user can connect in
     * between; a path that is not a socket, or another server's live socket, is refused.
     */
    /**
     * {@code latencies}: the stack's per-layer meters, shown in status's "layers"; {@code names}: a
     * member as typed (perhaps with a secret in it) to the name it goes by (never with one).
     */
    public static AdminServer start(Path path, ReplicatedArray array, LayerLatencies latencies,
                                    java.util.function.UnaryOperator<String> names) throws IOException {
        SocketTransport transport = SocketTransport.chosen();
        EventLoopGroup group = transport.newEventLoops(1);
        ChannelGroup clients = new DefaultChannelGroup("admin clients", GlobalEventExecutor.INSTANCE);
        try {
            ServerBootstrap bootstrap = new ServerBootstrap().group(group).channel(transport.serverDomainSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel c) {
                            clients.add(c);
                            c.pipeline().addLast(new LineBasedFrameDecoder(MAX_LINE))
                                    .addLast(new StringDecoder(StandardCharsets.UTF_8))
                                    .addLast(new StringEncoder(StandardCharsets.UTF_8))
                                    .addLast(new Handler(array, latencies, names, transport));
                        }
                    });
            Channel ch = UnixSocketBinder.bind(path,
                    p -> bootstrap.bind(new DomainSocketAddress(p.toFile())).syncUninterruptibly().channel());
            return new AdminServer(group, ch, clients, path);
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("cannot open the admin socket " + path + ": " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        OrderlyShutdown.closeThenStop(clients, group, 1000);
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // Nothing to do: the socket is already closed.
        }
    }

    private static final class Handler extends SimpleChannelInboundHandler<String> {
        private final ReplicatedArray array;
        private final LayerLatencies latencies;
        /** A member as typed (perhaps with a secret in it) to the name it goes by (never with one). */
        private final java.util.function.UnaryOperator<String> names;
        /** The process's sockets' transport (the data path's too: both take {@link SocketTransport#chosen()}). */
        private final SocketTransport transport;

        Handler(ReplicatedArray array, LayerLatencies latencies, java.util.function.UnaryOperator<String> names,
                SocketTransport transport) {
            this.transport = transport;
            this.array = array;
            this.latencies = latencies;
            this.names = names;
        }

        /**
         * The array's status with "layers": latency percentiles top-down — "nbd" (the front, from a
         * request read off the connection to its reply written), "encryption", "array", then each replica ("replica NAME",
         * all request types) — each including the time of the layers below it — "xtsMaskPath", "aesEngine",
         * "socketTransport", "javaRuntime", the buffers Netty's allocator holds ("bufferDirectBytes",
         * "bufferHeapBytes") and its "leakDetection" level.
         */
        private ObjectNode status() {
            ArrayStatus status = array.status();
            ObjectNode node = JSON.valueToTree(status);
            List<LayerLatencies.Layer> layers = new ArrayList<>(latencies.snapshot());
            for (ArrayStatus.MemberStatus m : status.members()) {
                if (m.requests() > 0) {
                    layers.add(new LayerLatencies.Layer("replica " + m.name(), "all", m.requests(), m.p50Micros(),
                            m.p99Micros(), m.p999Micros(), -1, m.meanMicros()));
                }
            }
            node.set("layers", JSON.valueToTree(layers));
            // Which AES-XTS mask path this JVM took (vector needs JDK 25+, the module and AVX-512).
            node.put("xtsMaskPath", io.nbdvault.crypto.xts.AesXts.maskPath());
            // Whose bulk AES runs under XTS and the integrity MAC (the JDK's, or OpenSSL's where the JDK's is narrow).
            node.put("aesEngine", io.nbdvault.crypto.aes.AesEngine.describe());
            node.put("socketTransport", transport.toString());
            node.put("javaRuntime", io.nbdvault.cli.VersionProvider.javaRuntime());
            // What Netty's allocator holds (a leak shows as growth here) and whether leaks are traced.
            if (io.netty.buffer.ByteBufAllocator.DEFAULT instanceof io.netty.buffer.ByteBufAllocatorMetricProvider m) {
                node.put("bufferDirectBytes", m.metric().usedDirectMemory());
                node.put("bufferHeapBytes", m.metric().usedHeapMemory());
            }
            node.put("leakDetection", io.netty.util.ResourceLeakDetector.getLevel().name().toLowerCase(java.util.Locale.ROOT));
            return node;
        }

        /** Answers a request that completed later, off the event loop. */
        private static void answer(ChannelHandlerContext ctx, Throwable error, java.util.function.Consumer<ObjectNode> fill) {
            ObjectNode done = JSON.createObjectNode();
            if (error != null) {
                Throwable cause = io.nbdvault.core.BlockDeviceException.unwrap(error);
                done.put("ok", false).put("error", String.valueOf(cause.getMessage()));
            } else {
                done.put("ok", true);
                fill.accept(done);
            }
            ctx.writeAndFlush(done + "\n");
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            ObjectNode reply = JSON.createObjectNode();
            try {
                JsonNode request = JSON.readTree(line);
                String command = request.path("command").asText("");
                switch (command) {
                    case "status" -> reply.set("status", status());
                    case "fail" -> {
                        array.fail(names.apply(request.path("member").asText("")), request.path("force").asBoolean(false)).whenComplete((x, error) ->
                                answer(ctx, error, done -> done.put("done", true)));
                        return;
                    }
                    case "re-add" -> {
                        array.reAdd(names.apply(request.path("member").asText(""))).whenComplete((onlyDirty, error) ->
                                answer(ctx, error, done -> done.put("bitmap", onlyDirty)));
                        return;
                    }
                    case "replace" -> {
                        array.replace(names.apply(request.path("member").asText("")), names.apply(request.path("with").asText("")),
                                request.path("rate").asLong(0), request.path("force").asBoolean(false)).whenComplete((x, error) -> answer(ctx, error, done -> { }));
                        return;
                    }
                    case "scrub" -> {
                        // Runs for a while: answer when done, without holding the event loop.
                        array.scrub(request.path("repair").asBoolean(false)).whenComplete((found, error) ->
                                answer(ctx, error, done -> done.put("mismatches", found)));
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown command '" + command + "'");
                }
                reply.put("ok", true);
            } catch (IOException | RuntimeException e) {
                reply.put("ok", false).put("error", String.valueOf(e.getMessage()));
            }
            ctx.writeAndFlush(reply + "\n");
        }
    }
}
