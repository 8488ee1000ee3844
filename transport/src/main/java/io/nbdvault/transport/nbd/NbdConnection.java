package io.nbdvault.transport.nbd;

import io.nbdvault.transport.AbandonedConnection;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection to a replica: many requests in flight, matched to replies by cookie. A request
 * that is not answered within the timeout fails, and so does the whole connection — a server that
 * hangs on one request cannot be trusted with the others.
 *
 * <p>Deadlines are checked by one sweep per connection every quarter of the timeout (at most every
 * second), on the channel's event loop, rather than by a timer per request: scheduling and
 * cancelling a timer for each of tens of thousands of requests a second, mostly from another
 * thread, cost a queued task and a priority-queue insertion and removal each. A request therefore
 * fails between one and 1.25 timeouts after it was sent. Requests written in one turn of the event
 * loop leave in one system call ({@link FlushConsolidationHandler}), so a replica reads a burst of
 * them at once.
 */
final class NbdConnection {
    /** Sweeps for expired requests at most this often, and at least every second. */
    private static final long MIN_SWEEP_MILLIS = 10;

    private record Pending(CompletableFuture<ClientReply> future, int readLength, long deadlineNanos,
                           ReadAssembly assembly) {
    }

    private final Channel channel;
    private final String peer;
    private final Duration timeout;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong cookies = new AtomicLong();
    final ExportInfo info;

    private NbdConnection(Channel channel, String peer, Duration timeout, ExportInfo info) {
        this.channel = channel;
        this.peer = peer;
        this.timeout = timeout;
        this.info = info;
    }

    static CompletableFuture<NbdConnection> open(Bootstrap bootstrap, SocketAddress address, String peer, String export,
                                                 Duration timeout, TlsClient tls) {
        CompletableFuture<ExportInfo> handshake = new CompletableFuture<>();
        NbdConnection[] self = new NbdConnection[1];
        Bootstrap b = bootstrap.clone().handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("handshake", new ClientHandshake(export, handshake, tls));
            }
        });
        CompletableFuture<NbdConnection> result = new CompletableFuture<>();
        b.connect(address).addListener(f -> {
            if (!f.isSuccess()) {
                result.completeExceptionally(new BlockDeviceException(Errno.EIO,
                        "cannot connect to " + peer + ": " + f.cause().getMessage(), f.cause()));
                return;
            }
            Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
            ch.eventLoop().schedule(() -> handshake.completeExceptionally(
                    new java.io.IOException("handshake timed out")), timeout.toMillis(), TimeUnit.MILLISECONDS);
            handshake.whenComplete((info, error) -> {
                if (error != null) {
                    ch.close();
                    result.completeExceptionally(new BlockDeviceException(Errno.EIO,
                            "NBD handshake with " + peer + " failed: " + error.getMessage(), error));
                    return;
                }
                NbdConnection c = new NbdConnection(ch, peer, timeout, info);
                self[0] = c;
                ch.pipeline().addLast("flush", new FlushConsolidationHandler(64, true))
                        .addLast("encoder", new RequestEncoder())
                        .addLast("decoder", new ReplyDecoder(c::readLengthOf))
                        .addLast("replies", c.new Replies());
                long sweep = Math.max(MIN_SWEEP_MILLIS, Math.min(1000, timeout.toMillis() / 4));
                ScheduledFuture<?> sweeper = ch.eventLoop().scheduleAtFixedRate(c::expire, sweep, sweep, TimeUnit.MILLISECONDS);
                ch.closeFuture().addListener(cf -> {
                    sweeper.cancel(false);
                    c.failAll("connection to " + peer + " lost");
                });
                result.complete(c);
            });
        });
        return result;
    }

    boolean isOpen() {
        return channel.isActive();
    }

    EventLoop eventLoop() {
        return channel.eventLoop();
    }

    int inFlight() {
        return pending.size();
    }

    java.util.concurrent.CompletableFuture<Void> closeFuture() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        channel.closeFuture().addListener(x -> f.complete(null));
        return f;
    }

    /**
     * Sends a request; the future fails with EIO on timeout or disconnect, or with the server's errno.
     * Takes ownership of {@code payload}: it is released once sent, or here if it cannot be.
     */
    CompletableFuture<ClientReply> submit(int flags, int type, long offset, long length, io.netty.buffer.ByteBuf payload,
                                          int readLength) {
        CompletableFuture<ClientReply> future = new CompletableFuture<>();
        if (!channel.isActive()) {
            if (payload != null) {
                payload.release();
            }
            future.completeExceptionally(new BlockDeviceException(Errno.EIO, "not connected to " + peer));
            return future;
        }
        long cookie = cookies.incrementAndGet();
        pending.put(cookie, new Pending(future, readLength, System.nanoTime() + timeout.toNanos(),
                new ReadAssembly(offset, readLength)));
        channel.writeAndFlush(new ClientRequest(flags, type, cookie, offset, length, payload)).addListener(f -> {
            if (!f.isSuccess()) {
                fail(cookie, new BlockDeviceException(Errno.EIO, "sending to " + peer + " failed: " + f.cause().getMessage()));
            }
        });
        if (!channel.isActive()) {
            fail(cookie, new BlockDeviceException(Errno.EIO, "not connected to " + peer));
        }
        return future;
    }

    private int readLengthOf(long cookie) {
        Pending p = pending.get(cookie);
        return p == null ? -1 : p.readLength();
    }

    /** The sweep: fails the requests past their deadline, and then the connection. On the channel's event loop. */
    private void expire() {
        long now = System.nanoTime();
        boolean expired = false;
        for (Map.Entry<Long, Pending> e : pending.entrySet()) {
            if (now - e.getValue().deadlineNanos() >= 0) {
                fail(e.getKey(), new BlockDeviceException(Errno.EIO, "request to " + peer + " timed out after "
                        + timeout.toMillis() + " ms"));
                expired = true;
            }
        }
        if (expired) {
            AbandonedConnection.reset(channel); // the requests still queued must never reach the replica now
        }
    }

    private void fail(long cookie, Throwable error) {
        Pending p = pending.remove(cookie);
        if (p != null) {
            p.assembly().discard();
            p.future().completeExceptionally(error);
        }
    }

    private void failAll(String why) {
        for (Long cookie : pending.keySet()) {
            fail(cookie, new BlockDeviceException(Errno.EIO, why));
        }
    }

    void close() {
        channel.close();
    }

    private final class Replies extends io.netty.channel.ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ReplyChunk chunk) {
                chunk(ctx, chunk);
            } else {
                simple((ClientReply) msg);
            }
        }

        /** A structured reply chunk: added to its request's answer, which completes with the last one. */
        private void chunk(ChannelHandlerContext ctx, ReplyChunk chunk) {
            Pending p = pending.get(chunk.cookie());
            try {
                if (p == null) {
                    return;
                }
                p.assembly().add(chunk, ctx.alloc());
            } finally {
                chunk.payload().release();
            }
            if (chunk.done() && pending.remove(chunk.cookie(), p)) {
                try {
                    p.future().complete(p.assembly().finish(chunk.cookie()));
                } catch (RuntimeException e) {
                    // An incomplete answer: the request fails and the stream is no longer trusted.
                    p.assembly().discard();
                    p.future().completeExceptionally(new BlockDeviceException(Errno.EIO,
                            peer + " sent an incomplete reply: " + e.getMessage(), e));
                    AbandonedConnection.reset(ctx.channel());
                }
            }
        }

        private void simple(ClientReply reply) {
            Pending p = pending.remove(reply.cookie());
            if (p == null) {
                if (reply.data() != null) {
                    reply.data().release();
                }
                return;
            }
            p.future().complete(reply);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failAll("connection to " + peer + " failed: " + cause.getMessage());
            AbandonedConnection.reset(ctx.channel());
        }
    }
}
