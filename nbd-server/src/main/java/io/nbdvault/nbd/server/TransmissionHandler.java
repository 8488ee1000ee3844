package io.nbdvault.nbd.server;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.LatencyMeter;
import io.nbdvault.core.Requests;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.nbd.codec.NbdRequest;
import io.nbdvault.nbd.codec.SimpleReply;
import io.nbdvault.nbd.codec.StructuredChunk;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * The transmission phase: validates each request against the export, hands it to the device and
 * answers when the device completes — so replies go out in completion order, many in flight at once.
 *
 * <p>Admission: a request starts only while this connection has fewer than {@link #MAX_IN_FLIGHT}
 * requests and {@link #MAX_IN_FLIGHT_BYTES} in flight and the server-wide {@link InFlightBudget}
 * has room; otherwise it waits here (a decoded header, or a WRITE whose payload is already read),
 * in order, and reading from the socket pauses. So a client that floods 32 MiB READs without
 * reading replies costs the server a bounded amount of memory, and replicas never see the flood —
 * their deadlines measure their own speed, not our queue. All state is confined to the channel's
 * event loop.
 */
final class TransmissionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(TransmissionHandler.class.getName());
    private static final int MAX_IN_FLIGHT = 256;
    private static final long MAX_IN_FLIGHT_BYTES = 128L << 20;
    /** What a connection with nothing in flight may always start (memory ≤ budget + connections × this). */
    private static final long RESERVE_BYTES = 1L << 20;
    private static final int KNOWN_FLAGS = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_DF
            | Nbd.CMD_FLAG_REQ_ONE | Nbd.CMD_FLAG_FAST_ZERO;

    private final Session session;
    private final NbdExport export;
    private final BlockDevice device;
    private final short transmissionFlags;
    private final ServerConnections connections;
    /**
     * Latency per request type (indexed by NBD command), from the request read off the connection
     * (before admission) to its reply written to it: everything the server adds, device included.
     */
    private final LatencyMeter[] latency = new LatencyMeter[Nbd.CMD_BLOCK_STATUS + 1];
    private ChannelHandlerContext ctx;
    private int inFlight;
    private long inFlightBytes;
    private boolean draining;
    /** Requests decoded but not started (over a limit); each holds its reference until dispatched. */
    private final java.util.ArrayDeque<NbdRequest> waiting = new java.util.ArrayDeque<>();
    private boolean awaitingBudget;
    /** Set by {@link #started} while {@link #run} dispatches: the request went asynchronous. */
    private boolean startedNow;

    TransmissionHandler(Session session, ServerConnections connections) {
        this.session = session;
        this.export = session.export;
        this.device = export.device();
        this.transmissionFlags = TransmissionFlags.of(export, session.structuredReplies);
        this.connections = connections;
        String[] names = {"read", "write", "disc", "flush", "trim", "cache", "write_zeroes", "block_status"};
        for (int t = 0; t < latency.length; t++) {
            latency[t] = connections.latencies.meter("nbd", names[t]);
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        connections.register(ctx.channel(), this::drain);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof NbdRequest request)) {
            ctx.fireChannelRead(msg);
            return;
        }
        waiting.add(request);
        admit();
    }

    /** Bytes a request holds while in flight: what a READ will return, what a WRITE carries. */
    private static long costOf(NbdRequest r) {
        return r.type() == Nbd.CMD_READ || r.type() == Nbd.CMD_WRITE ? r.length() : 0;
    }

    /** Starts waiting requests in order while the limits allow; pauses the socket otherwise. On the event loop. */
    private void admit() {
        while (!waiting.isEmpty()) {
            NbdRequest next = waiting.peek();
            long cost = costOf(next);
            boolean connectionFull = inFlight >= MAX_IN_FLIGHT || (inFlight > 0 && inFlightBytes + cost > MAX_IN_FLIGHT_BYTES);
            // Every connection may have one small request in flight whatever others hold, so clients
            // that flood and never read their replies cannot starve the rest.
            boolean reserve = inFlight == 0 && cost <= RESERVE_BYTES;
            if (reserve && !connectionFull) {
                connections.budget.force(cost);
            } else if (connectionFull || !connections.budget.tryAcquire(cost)) {
                ctx.channel().config().setAutoRead(false);
                if (!connectionFull && !awaitingBudget) {
                    awaitingBudget = true;
                    connections.budget.await(cost, () -> ctx.executor().execute(() -> {
                        awaitingBudget = false;
                        admit();
                    }));
                }
                return;
            }
            waiting.poll();
            run(next, cost);
        }
        if (!draining && inFlight < MAX_IN_FLIGHT / 2 && inFlightBytes < MAX_IN_FLIGHT_BYTES / 2
                && ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    /**
     * Runs one admitted request, whose {@code cost} the server budget has granted: an asynchronous
     * one returns it when answered ({@link #finished}); one answered at once returns it here.
     */
    private void run(NbdRequest request, long cost) {
        // Saved and restored: answering one request can admit the next from inside this call.
        boolean outer = startedNow;
        startedNow = false;
        try {
            if (draining) {
                // After DISC or shutdown nothing new is started; the client is told so.
                reply(request, Errno.ESHUTDOWN, "server is shutting down");
            } else {
                dispatch(request);
            }
        } catch (RuntimeException e) {
            LOG.warning("request " + request + " failed: " + e);
            reply(request, Errno.EIO, "internal error");
            if (startedNow) {
                // Started, then failed before it could be answered: nothing else will finish it
                // (finished returns its budget, so the finally below must not).
                finished(cost);
            }
        } finally {
            if (!startedNow) {
                connections.budget.release(cost);
            }
            startedNow = outer;
            request.release();
        }
    }

    private void dispatch(NbdRequest r) {
        int type = r.type();
        if ((r.flags() & ~KNOWN_FLAGS) != 0) {
            reply(r, Errno.EINVAL, "unknown command flags " + r.flags());
            return;
        }
        if (type == Nbd.CMD_DISC) {
            drain();
            return;
        }
        if (type == Nbd.CMD_FLUSH) {
            track(r, 0, device.flush());
            return;
        }
        if (type > Nbd.CMD_BLOCK_STATUS || type == Nbd.CMD_DISC) {
            reply(r, Errno.EINVAL, "unknown command " + type);
            return;
        }
        if (r.oversized()) {
            reply(r, Errno.EOVERFLOW, "write of " + r.length() + " bytes exceeds the maximum of " + Nbd.MAX_PAYLOAD);
            return;
        }
        if (r.length() == 0 && type != Nbd.CMD_CACHE) {
            reply(r, Errno.EINVAL, "zero-length request");
            return;
        }
        if (type == Nbd.CMD_READ && r.length() > Nbd.MAX_PAYLOAD) {
            reply(r, Errno.EOVERFLOW, "read of " + r.length() + " bytes exceeds the maximum of " + Nbd.MAX_PAYLOAD);
            return;
        }
        boolean writes = type == Nbd.CMD_WRITE || type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
        if (writes && (transmissionFlags & Nbd.FLAG_READ_ONLY) != 0) {
            reply(r, Errno.EPERM, "export is read-only");
            return;
        }
        BlockDeviceException range = Requests.checkRange(r.offset(), r.length(), device.size());
        if (range != null) {
            reply(r, type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL,
                    range.getMessage());
            return;
        }
        int flags = writeFlags(r);
        switch (type) {
            case Nbd.CMD_READ -> read(r);
            case Nbd.CMD_WRITE -> write(r, flags);
            case Nbd.CMD_TRIM -> requireFlag(r, Nbd.FLAG_SEND_TRIM, () -> device.trim(r.offset(), r.length(), flags));
            case Nbd.CMD_WRITE_ZEROES -> writeZeroes(r, flags);
            case Nbd.CMD_CACHE -> requireFlag(r, Nbd.FLAG_SEND_CACHE, () -> device.cache(r.offset(), r.length()));
            case Nbd.CMD_BLOCK_STATUS -> blockStatus(r);
            default -> reply(r, Errno.EINVAL, "unknown command " + type);
        }
    }

    private void write(NbdRequest r, int flags) {
        // The device may use the payload until its future completes; the request itself is released on return.
        ByteBuf payload = r.payload().retain();
        CompletableFuture<Void> done = device.write(r.offset(), payload, flags);
        done.whenComplete((ok, error) -> payload.release());
        track(r, r.length(), done);
    }

    private static int writeFlags(NbdRequest r) {
        int flags = WriteFlags.NONE;
        if ((r.flags() & Nbd.CMD_FLAG_FUA) != 0) {
            flags |= WriteFlags.FUA;
        }
        if ((r.flags() & Nbd.CMD_FLAG_NO_HOLE) != 0) {
            flags |= WriteFlags.NO_HOLE;
        }
        if ((r.flags() & Nbd.CMD_FLAG_FAST_ZERO) != 0) {
            flags |= WriteFlags.FAST_ZERO;
        }
        return flags;
    }

    private void requireFlag(NbdRequest r, int flag, java.util.function.Supplier<CompletableFuture<Void>> op) {
        if ((transmissionFlags & flag) == 0) {
            reply(r, Errno.EINVAL, "command not supported by this export");
            return;
        }
        track(r, 0, op.get());
    }

    private void writeZeroes(NbdRequest r, int flags) {
        if ((transmissionFlags & Nbd.FLAG_SEND_WRITE_ZEROES) == 0) {
            reply(r, Errno.EINVAL, "write zeroes not supported by this export");
            return;
        }
        if (WriteFlags.has(flags, WriteFlags.FAST_ZERO) && (transmissionFlags & Nbd.FLAG_SEND_FAST_ZERO) == 0) {
            reply(r, Errno.EINVAL, "fast zero was not negotiated");
            return;
        }
        track(r, 0, device.writeZeroes(r.offset(), r.length(), flags));
    }

    private void read(NbdRequest r) {
        long cookie = r.cookie();
        long offset = r.offset();
        int length = (int) r.length();
        started(length);
        long received = r.receivedNanos();
        device.read(offset, length).whenComplete((data, error) -> {
            if (error != null) {
                latency[Nbd.CMD_READ].recordSince(received);
                finished(length);
                sendError(cookie, error);
            } else if (session.structuredReplies) {
                ByteBuf head = ctx.alloc().buffer(8).writeLong(offset);
                send(new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, head, data), length,
                        latency[Nbd.CMD_READ], received);
            } else {
                send(new SimpleReply(0, cookie, data), length, latency[Nbd.CMD_READ], received);
            }
        });
    }

    private void blockStatus(NbdRequest r) {
        if (!session.blockStatusEnabled()) {
            reply(r, Errno.EINVAL, "no meta context was negotiated for block status");
            return;
        }
        long cookie = r.cookie();
        boolean onlyOne = (r.flags() & Nbd.CMD_FLAG_REQ_ONE) != 0;
        long length = r.length();
        started(0);
        long received = r.receivedNanos();
        device.blockStatus(r.offset(), length).whenComplete((extents, error) -> {
            if (error != null) {
                latency[Nbd.CMD_BLOCK_STATUS].recordSince(received);
                finished(0);
                sendError(cookie, error);
                return;
            }
            ByteBuf head = ctx.alloc().buffer();
            head.writeInt(Session.BASE_ALLOCATION_ID);
            long covered = 0;
            for (Extent e : extents) {
                long n = Math.min(e.length(), length - covered);
                if (n <= 0) {
                    break;
                }
                int flags = (e.flags() & Extent.HOLE) != 0 ? Nbd.STATE_HOLE : 0;
                flags |= (e.flags() & Extent.ZERO) != 0 ? Nbd.STATE_ZERO : 0;
                head.writeInt((int) n).writeInt(flags);
                covered += n;
                if (onlyOne) {
                    break;
                }
            }
            send(new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, head, null), 0,
                    latency[Nbd.CMD_BLOCK_STATUS], received);
        });
    }

    /** Runs a request without reply data and answers success or its error. */
    private void track(NbdRequest r, long bytes, CompletableFuture<Void> operation) {
        long cookie = r.cookie();
        LatencyMeter meter = latency[r.type()];
        long received = r.receivedNanos();
        started(bytes);
        operation.whenComplete((ok, error) -> {
            if (error != null) {
                meter.recordSince(received);
                finished(bytes);
                sendError(cookie, error);
            } else {
                send(success(cookie), bytes, meter, received);
            }
        });
    }

    private Object success(long cookie) {
        return session.structuredReplies
                ? new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, null, null)
                : new SimpleReply(0, cookie, null);
    }

    private void sendError(long cookie, Throwable error) {
        Errno errno = BlockDeviceException.errnoOf(error);
        Throwable cause = BlockDeviceException.unwrap(error);
        if (!(cause instanceof BlockDeviceException)) {
            LOG.warning("request failed unexpectedly: " + cause);
        }
        ctx.executor().execute(() -> reply(cookie, errno, String.valueOf(cause.getMessage())));
    }

    private void reply(NbdRequest r, Errno errno, String message) {
        reply(r.cookie(), errno, message);
    }

    private void reply(long cookie, Errno errno, String message) {
        if (session.structuredReplies) {
            byte[] text = message.getBytes(StandardCharsets.UTF_8);
            int textLength = Math.min(text.length, 4096);
            ByteBuf head = ctx.alloc().buffer(6 + textLength).writeInt(errno.nbdValue()).writeShort(textLength)
                    .writeBytes(text, 0, textLength);
            ctx.writeAndFlush(new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, head, null));
        } else {
            ctx.writeAndFlush(new SimpleReply(errno.nbdValue(), cookie, null));
        }
    }

    /**
     * Answers from whichever thread completed the device's future: the write itself is issued on
     * the connection's event loop. The reply owns its buffers, so a closed channel releases them.
     */
    private void send(Object reply, long bytes, LatencyMeter meter, long received) {
        if (!ctx.executor().inEventLoop()) {
            try {
                ctx.executor().execute(() -> send(reply, bytes, meter, received));
            } catch (java.util.concurrent.RejectedExecutionException shutDown) {
                io.netty.util.ReferenceCountUtil.release(reply);
                connections.budget.release(bytes);
            }
            return;
        }
        ctx.writeAndFlush(reply).addListener(f -> {
            // The front's latency: from the request read off the connection to its reply written to it.
            meter.recordSince(received);
            finished(bytes);
        });
    }

    private void started(long bytes) {
        assert ctx.executor().inEventLoop();
        startedNow = true;
        inFlight++;
        inFlightBytes += bytes;
    }

    /** Called on the event loop (listeners of writes, or re-dispatched) once a request is answered. */
    private void finished(long bytes) {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(() -> finished(bytes));
            return;
        }
        inFlight--;
        inFlightBytes -= bytes;
        connections.budget.release(bytes);
        admit();
        if (draining && inFlight == 0 && waiting.isEmpty()) {
            ctx.close();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // A client that does not read its replies must not make us buffer without bound.
        if (!ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(false);
        } else {
            admit();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        NbdRequest r;
        while ((r = waiting.poll()) != null) {
            r.release();
        }
        ctx.fireChannelInactive();
    }

    /** Stops taking requests and closes once every started one is answered (DISC, or server shutdown). */
    void drain() {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(this::drain);
            return;
        }
        draining = true;
        ctx.channel().config().setAutoRead(false);
        // Requests already received are answered (with ESHUTDOWN if they had not started).
        admit();
        if (inFlight == 0 && waiting.isEmpty()) {
            ctx.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.info("closing NBD connection from " + ctx.channel().remoteAddress() + ": " + rootMessage(cause));
        ctx.close();
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }

}
