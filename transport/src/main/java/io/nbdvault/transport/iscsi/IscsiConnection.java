package io.nbdvault.transport.iscsi;

import io.nbdvault.transport.AbandonedConnection;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Map;
import java.util.HashMap;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One iSCSI session of one connection (MaxConnections=1): the login, then SCSI commands in flight
 * within the target's CmdSN window, matched to their answers by initiator task tag.
 *
 * <p>Thread model: every field below is read and written only on the channel's event loop.
 * {@link #submit} and {@link #logout} may be called from any thread and hop onto it; every future
 * they return is completed there. Read from elsewhere: what
 * {@link #isOpen} and {@link #negotiated} look at (volatile, written once).
 *
 * <p>Ownership: a command's write data is retained by the command and released when it completes
 * or fails; each Data-Out sequence takes its own retained slice, released by the encoder. Read data is
 * gathered into a buffer handed to the future's receiver. A PDU that arrives for a command already
 * timed out is released and dropped; one for a task tag we never issued fails the connection.
 *
 * <p>Deadlines: each command has one. When it passes, the command fails with EIO, an ABORT TASK is
 * sent, and if that is not answered within another deadline the connection is dropped (with
 * ErrorRecoveryLevel 0 that is the only recovery left).
 */
final class IscsiConnection extends ChannelInboundHandlerAdapter {
    /** A command waiting for its CmdSN slot or its answer. */
    private static final class Task {
        final int itt;
        final byte[] cdb;
        final ByteBuf out;
        final int readLength;
        final CompletableFuture<ScsiResult> future;
        /** System.nanoTime() at which the command fails. */
        final long deadline;
        int cmdSn;
        boolean sent;
        ByteBuf in;
        int received;
        /** Neighbours in the list of live tasks ordered by deadline. */
        Task earlier;
        Task later;

        Task(int itt, byte[] cdb, ByteBuf out, int readLength, CompletableFuture<ScsiResult> future, long deadline) {
            this.itt = itt;
            this.cdb = cdb;
            this.out = out;
            this.readLength = readLength;
            this.future = future;
            this.deadline = deadline;
        }
    }

    /**
     * The session ended (connection lost, closed, a protocol error) before the command had an
     * answer: nothing says whether the target carried it out, and it may be issued again on a new
     * session (block reads and writes are idempotent) while its deadline allows.
     */
    static final class SessionLost extends BlockDeviceException {
        SessionLost(String message) {
            super(Errno.EIO, message);
        }
    }

    private final String peer;
    private final IscsiTarget target;
    private final Duration timeout;
    private final long lun;
    private Channel channel;
    private PduDecoder decoder;
    private PduEncoder encoder;
    private Login login;
    private CompletableFuture<IscsiConnection> loggedIn;
    private volatile Negotiated session;
    private int nextItt = 1;
    private int cmdSn;
    private int expStatSn;
    private int expCmdSn;
    private int maxCmdSn;
    private final IntObjectHashMap<Task> tasks = new IntObjectHashMap<>();
    /** Live tasks by deadline, earliest first; one timer, armed for the earliest (no timer per command). */
    private Task earliest;
    private Task latest;
    private ScheduledFuture<?> deadlineTimer;
    private long timerAt;
    private final ArrayDeque<Task> waiting = new ArrayDeque<>();
    /** Tags of commands we gave up on: late answers for them are dropped, not errors. */
    private final Set<Integer> abandoned = new HashSet<>();
    /** ABORT TASKs awaiting their response, by their own tag: the watchdog and the tag they abort. */
    private record Abort(ScheduledFuture<?> watchdog, int aborted) {
    }

    private final Map<Integer, Abort> aborts = new HashMap<>();
    private volatile CompletableFuture<Void> logoutDone;
    private int logoutItt;
    /** Between channelRead and channelReadComplete: flushes wait for the end of the batch. */
    private boolean reading;
    /** When the target last sent anything: every PDU is a sign of life. */
    private long lastHeard = System.nanoTime();
    private int pingItt = Pdu.RESERVED_TAG;
    private ScheduledFuture<?> keepalive;
    private volatile String failure;

    private IscsiConnection(IscsiTarget target, String peer, Duration timeout) {
        this.target = target;
        this.peer = peer;
        this.timeout = timeout;
        this.lun = lunField(target.lun());
    }

    /** SAM-2 single-level LUN: peripheral addressing below 256, flat space addressing above. */
    static long lunField(int lun) {
        if (lun < 256) {
            return (long) lun << 48;
        }
        return (long) (0x4000 | (lun & 0x3fff)) << 48;
    }

    /** Connects, logs in and completes once in the full-feature phase (or fails, within {@code timeout}). */
    static CompletableFuture<IscsiConnection> open(Bootstrap bootstrap, IscsiTarget target, Duration timeout) {
        IscsiConnection c = new IscsiConnection(target, target.toString(), timeout);
        CompletableFuture<IscsiConnection> result = new CompletableFuture<>();
        c.loggedIn = result;
        // Receive buffers grow up to 256 KiB: a 1 MiB READ's Data-In then arrives in a few recv calls instead
        // of ~45 of at most 32 KiB (strace: 129k recvfrom for ~2,800 1 MiB reads before), and the segments are
        // sliced out of fewer buffers. Not 1 MiB: the two or three such buffers alive at a time filled half of
        // a 4 MiB pool chunk, which the pool then freed and made again (zeroing it) as they were released —
        // 2 % of the CPU in perf. Small answers shrink the guess again.
        Bootstrap b = bootstrap.clone().option(io.netty.channel.ChannelOption.RCVBUF_ALLOCATOR,
                new io.netty.channel.AdaptiveRecvByteBufAllocator(512, 65536, 256 << 10)).handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                c.decoder = new PduDecoder(Login.OUR_MAX_RECV);
                c.encoder = new PduEncoder();
                ch.pipeline().addLast("decoder", c.decoder).addLast("encoder", c.encoder).addLast("session", c);
            }
        });
        b.connect(new InetSocketAddress(target.host(), target.port())).addListener(f -> {
            Channel ch = ((ChannelFuture) f).channel();
            if (!f.isSuccess()) {
                result.completeExceptionally(new BlockDeviceException(Errno.EIO,
                        "cannot connect to " + c.peer + ": " + f.cause().getMessage()));
                return;
            }
            ch.eventLoop().execute(() -> c.startLogin(ch));
        });
        return result;
    }

    private void startLogin(Channel ch) {
        channel = ch;
        ScheduledFuture<?> deadline = ch.eventLoop().schedule(() -> loginFailed("login to " + peer + " timed out after "
                + timeout.toMillis() + " ms", Errno.EIO), timeout.toMillis(), TimeUnit.MILLISECONDS);
        loggedIn.whenComplete((c, e) -> deadline.cancel(false));
        ch.closeFuture().addListener(f -> ch.eventLoop().execute(this::closed));
        cmdSn = 1;
        login = new Login(target, nextItt++, cmdSn);
        send(login.start(), true);
    }

    private void loginFailed(String message, Errno errno) {
        if (loggedIn.completeExceptionally(new BlockDeviceException(errno, message))) {
            channel.close();
        }
    }

    boolean isOpen() {
        return channel.isActive() && failure == null && logoutDone == null;
    }

    Negotiated negotiated() {
        return session;
    }

    EventLoop eventLoop() {
        return channel.eventLoop();
    }

    CompletableFuture<Void> closeFuture() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        channel.closeFuture().addListener(x -> f.complete(null));
        return f;
    }

    /**
     * Sends a command. {@code out} (may be null) is retained for as long as the command needs it;
     * the caller keeps its own reference. The future completes on the event loop.
     */
    CompletableFuture<ScsiResult> submit(byte[] cdb, ByteBuf out, int readLength) {
        return submit(cdb, out, readLength, System.nanoTime() + timeout.toNanos());
    }

    /** As {@link #submit(byte[], ByteBuf, int)}, failing at {@code deadline} (a System.nanoTime()). */
    CompletableFuture<ScsiResult> submit(byte[] cdb, ByteBuf out, int readLength, long deadline) {
        CompletableFuture<ScsiResult> future = new CompletableFuture<>();
        ByteBuf data = out == null ? null : out.retainedSlice();
        Runnable start = () -> {
            if (!isOpen()) {
                if (data != null) {
                    data.release();
                }
                future.completeExceptionally(new SessionLost("not connected to " + peer
                        + (failure != null ? " (" + failure + ")" : "")));
                return;
            }
            Task t = new Task(nextTag(), cdb, data, readLength, future, deadline);
            track(t);
            waiting.add(t);
            drain();
        };
        if (channel.eventLoop().inEventLoop()) {
            start.run(); // a command issued from a completion: no hop, and it leaves with the others (see drain)
        } else {
            channel.eventLoop().execute(start);
        }
        return future;
    }

    private int nextTag() {
        int itt;
        do {
            itt = nextItt++;
        } while (itt == Pdu.RESERVED_TAG || tasks.containsKey(itt) || !abandoned.isEmpty() && abandoned.contains(itt));
        return itt;
    }

    /** Adds a task to the map and to the deadline list (usually at its end: deadlines mostly come in order). */
    private void track(Task t) {
        tasks.put(t.itt, t);
        Task before = latest;
        while (before != null && before.deadline - t.deadline > 0) {
            before = before.earlier;
        }
        t.earlier = before;
        t.later = before == null ? earliest : before.later;
        if (t.earlier != null) {
            t.earlier.later = t;
        } else {
            earliest = t;
        }
        if (t.later != null) {
            t.later.earlier = t;
        } else {
            latest = t;
        }
        if (deadlineTimer == null || t.deadline - timerAt < 0) {
            arm(t.deadline);
        }
    }

    private void untrack(Task t) {
        if (tasks.get(t.itt) == t) {
            tasks.remove(t.itt);
        }
        if (t.earlier != null) {
            t.earlier.later = t.later;
        } else if (earliest == t) {
            earliest = t.later;
        }
        if (t.later != null) {
            t.later.earlier = t.earlier;
        } else if (latest == t) {
            latest = t.earlier;
        }
        t.earlier = null;
        t.later = null;
    }

    private void arm(long at) {
        if (deadlineTimer != null) {
            deadlineTimer.cancel(false);
        }
        timerAt = at;
        deadlineTimer = channel.eventLoop().schedule(this::expire, Math.max(0, at - System.nanoTime()),
                TimeUnit.NANOSECONDS);
    }

    /** The deadline timer: fails every task whose deadline passed, then waits for the next earliest. */
    private void expire() {
        deadlineTimer = null;
        long now = System.nanoTime();
        while (earliest != null && earliest.deadline - now <= 0) {
            timedOut(earliest);
        }
        if (earliest != null) {
            arm(earliest.deadline);
        }
    }

    /** Sends queued commands while the target's window (CmdSN ≤ MaxCmdSN) allows. */
    private void drain() {
        boolean sent = false;
        while (!waiting.isEmpty() && maxCmdSn - cmdSn >= 0) {
            Task t = waiting.poll();
            t.cmdSn = cmdSn++;
            t.sent = true;
            sendCommand(t);
            sent = true;
        }
        if (sent && !reading) {
            channel.flush(); // while reading, channelReadComplete flushes everything queued at once
        }
    }

    private void sendCommand(Task t) {
        int length = t.out == null ? 0 : t.out.readableBytes();
        int flags = Pdu.FLAG_FINAL | 0x01; // simple task attribute
        if (t.readLength > 0) {
            flags |= 0x40;
        }
        int immediate = 0;
        if (length > 0) {
            flags |= 0x20;
            if (session.immediateData()) {
                immediate = Math.min(length, Math.min(session.firstBurst(), session.targetMaxRecvDataSegment()));
            }
        }
        int unsolicitedEnd = session.initialR2T() ? immediate : Math.min(length, session.firstBurst());
        if (unsolicitedEnd > immediate) {
            flags &= ~Pdu.FLAG_FINAL; // unsolicited Data-Out follows
        }
        Pdu.Header h = new Pdu.Header(Pdu.SCSI_COMMAND, false, flags).u64(8, lun).u32(16, t.itt)
                .u32(20, t.readLength > 0 ? t.readLength : length).u32(24, t.cmdSn).u32(28, expStatSn)
                .bytes(32, t.cdb);
        send(h.with(immediate > 0 ? t.out.retainedSlice(t.out.readerIndex(), immediate) : null), false);
        if (unsolicitedEnd > immediate) {
            dataOut(t, Pdu.RESERVED_TAG, immediate, unsolicitedEnd - immediate);
        }
    }

    /**
     * One Data-Out sequence: {@code length} bytes from {@code offset}, in PDUs the target accepts,
     * written as one message (the encoder cuts it into PDUs).
     */
    private void dataOut(Task t, int ttt, int offset, int length) {
        channel.write(new DataOutSequence(lun, t.itt, ttt, expStatSn, offset, session.targetMaxRecvDataSegment(),
                t.out.retainedSlice(t.out.readerIndex() + offset, length)), channel.voidPromise());
    }

    /** A failed write reaches {@link #exceptionCaught} (the void promise fires it): no promise per PDU. */
    private void send(Pdu pdu, boolean flush) {
        if (flush) {
            channel.writeAndFlush(pdu, channel.voidPromise());
        } else {
            channel.write(pdu, channel.voidPromise());
        }
    }

    private void timedOut(Task t) {
        if (tasks.get(t.itt) != t) {
            untrack(t);
            return;
        }
        boolean sent = t.sent;
        waiting.remove(t);
        fail(t, new BlockDeviceException(Errno.EIO, "command to " + peer + " timed out after "
                + timeout.toMillis() + " ms"));
        if (sent && isOpen()) {
            abandoned.add(t.itt);
            int tmf = nextTag();
            // ABORT TASK, immediate; no answer within the deadline drops the connection.
            send(new Pdu.Header(Pdu.TASK_MGMT_REQUEST, true, Pdu.FLAG_FINAL | 1).u64(8, lun).u32(16, tmf)
                    .u32(20, t.itt).u32(24, cmdSn).u32(28, expStatSn).u32(32, t.cmdSn).with(null), true);
            aborts.put(tmf, new Abort(channel.eventLoop().schedule(() -> fatal("ABORT TASK to " + peer + " not answered"),
                    timeout.toMillis(), TimeUnit.MILLISECONDS), t.itt));
        }
    }

    private void complete(Task t, ScsiResult result) {
        untrack(t);
        if (t.out != null) {
            t.out.release();
        }
        if (!t.future.complete(result)) {
            result.release();
        }
    }

    private void fail(Task t, Throwable error) {
        untrack(t);
        if (t.out != null) {
            t.out.release();
        }
        if (t.in != null) {
            t.in.release();
            t.in = null;
        }
        t.future.completeExceptionally(error);
    }

    /** A protocol error: the session cannot be trusted any more. */
    private void fatal(String why) {
        if (failure == null) {
            failure = why;
            if (loggedIn != null && !loggedIn.isDone()) {
                loggedIn.completeExceptionally(new BlockDeviceException(Errno.EIO, why));
            }
        }
        failAll(why);
        AbandonedConnection.reset(channel); // the commands still queued must never reach the target now
    }

    private void failAll(String why) {
        waiting.clear();
        for (Task t : tasks.values().toArray(Task[]::new)) {
            fail(t, new SessionLost(why));
        }
        if (deadlineTimer != null) {
            deadlineTimer.cancel(false);
            deadlineTimer = null;
        }
        aborts.values().forEach(a -> a.watchdog().cancel(false));
        aborts.clear();
    }

    private void closed() {
        if (keepalive != null) {
            keepalive.cancel(false);
        }
        String why = failure != null ? failure : "connection to " + peer + " lost";
        if (!loggedIn.isDone()) {
            loggedIn.completeExceptionally(new BlockDeviceException(Errno.EIO, "login to " + peer + " failed: "
                    + (failure != null ? failure : "the target closed the connection")));
        }
        failAll(why);
        if (logoutDone != null) {
            logoutDone.complete(null);
        }
    }

    /** Logs out (waiting at most the timeout) and closes the connection. */
    CompletableFuture<Void> logout() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        channel.eventLoop().execute(() -> {
            if (!channel.isActive() || session == null || logoutDone != null) {
                channel.close();
                done.complete(null);
                return;
            }
            logoutDone = done;
            logoutItt = nextTag();
            failAll("connection to " + peer + " closed");
            send(new Pdu.Header(Pdu.LOGOUT_REQUEST, true, Pdu.FLAG_FINAL).u32(16, logoutItt).u32(24, cmdSn)
                    .u32(28, expStatSn).with(null), true);
            channel.eventLoop().schedule(() -> channel.close(), Math.min(timeout.toMillis(), 2000), TimeUnit.MILLISECONDS);
        });
        return done;
    }

    private long keepaliveInterval() {
        return Math.max(500, Math.min(5000, timeout.toMillis() / 2));
    }

    /**
     * NOP-Out only on an idle link: when nothing has come from the target for a keep-alive
     * interval, one ping goes out; if nothing at all answers within the timeout, the session is
     * given up (a target that stopped, or a link that silently died).
     */
    private void idleCheck() {
        if (!isOpen()) {
            return;
        }
        long now = System.nanoTime();
        if (pingItt != Pdu.RESERVED_TAG) {
            if (now - lastHeard > TimeUnit.MILLISECONDS.toNanos(timeout.toMillis())) {
                fatal(peer + " did not answer a NOP-Out within " + timeout.toMillis() + " ms");
            }
            return;
        }
        if (now - lastHeard >= TimeUnit.MILLISECONDS.toNanos(keepaliveInterval())) {
            pingItt = nextTag();
            lastHeard = now; // the answer's deadline runs from here
            send(new Pdu.Header(Pdu.NOP_OUT, true, Pdu.FLAG_FINAL).u32(16, pingItt).u32(20, Pdu.RESERVED_TAG)
                    .u32(24, cmdSn).u32(28, expStatSn).with(null), true);
        }
    }

    /** The channel is known from here on: a read (and its channelReadComplete) may come before the login starts. */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Pdu pdu = (Pdu) msg;
        lastHeard = System.nanoTime();
        reading = true;
        try {
            if (session == null) {
                loginResponse(pdu);
            } else {
                fullFeature(pdu);
            }
        } finally {
            ReferenceCountUtil.release(pdu);
        }
    }

    private void loginResponse(Pdu pdu) {
        if (loggedIn.isDone()) {
            return;
        }
        if (login == null) {
            loginFailed("login to " + peer + " failed: the target sent a PDU (opcode " + String.format("0x%02x",
                    pdu.opcode()) + ") before our login request", Errno.EIO);
            return;
        }
        try {
            Pdu next = login.onResponse(pdu);
            if (next != null) {
                send(next, true);
                return;
            }
            session = login.result();
            login = null;
            cmdSn = session.cmdSn();
            expStatSn = session.expStatSn();
            expCmdSn = session.expCmdSn();
            maxCmdSn = session.maxCmdSn();
            decoder.digests(session.headerDigest(), session.dataDigest());
            encoder.digests(session.headerDigest(), session.dataDigest());
            long interval = keepaliveInterval();
            keepalive = channel.eventLoop().scheduleAtFixedRate(this::idleCheck, interval, interval, TimeUnit.MILLISECONDS);
            loggedIn.complete(this);
        } catch (Login.LoginException e) {
            loginFailed("login to " + peer + " failed: " + e.getMessage(), e.authentication ? Errno.EPERM : Errno.EIO);
        }
    }

    private void fullFeature(Pdu pdu) {
        switch (pdu.opcode()) {
            case Pdu.DATA_IN -> dataIn(pdu);
            case Pdu.SCSI_RESPONSE -> response(pdu);
            case Pdu.R2T -> r2t(pdu);
            case Pdu.NOP_IN -> nopIn(pdu);
            case Pdu.TASK_MGMT_RESPONSE -> {
                statSn(pdu);
                Abort abort = aborts.remove(pdu.initiatorTaskTag());
                if (abort == null) {
                    fatal("task management response for an unknown task tag from " + peer);
                    return;
                }
                abort.watchdog().cancel(false);
                // Once the abort is answered nothing more comes for that task (RFC 7143 §11.6.2).
                abandoned.remove(abort.aborted());
            }
            case Pdu.LOGOUT_RESPONSE -> {
                statSn(pdu);
                channel.close();
            }
            case Pdu.ASYNC_MESSAGE -> {
                statSn(pdu);
                int event = pdu.byteAt(36);
                if (event >= 1 && event <= 3) {
                    fatal("target " + peer + " asked to end the session (async event " + event + ")");
                }
            }
            case Pdu.REJECT -> {
                statSn(pdu);
                int reason = pdu.byteAt(2);
                ByteBuf d = pdu.content();
                Task t = d.readableBytes() >= Pdu.BHS ? tasks.get(d.getInt(d.readerIndex() + 16)) : null;
                if (t != null && reason != 0x04) {
                    fail(t, new BlockDeviceException(Errno.EIO, String.format("%s rejected a command (reason 0x%02x)",
                            peer, reason)));
                } else {
                    fatal(String.format("%s rejected a PDU (reason 0x%02x)", peer, reason));
                }
            }
            default -> fatal(String.format("unexpected PDU (opcode 0x%02x) from %s", pdu.opcode(), peer));
        }
    }

    /** Records StatSN and the command window carried by a response. */
    private void statSn(Pdu pdu) {
        expStatSn = pdu.statSn() + 1;
        window(pdu);
    }

    private void window(Pdu pdu) {
        int exp = pdu.expCmdSn();
        int max = pdu.maxCmdSn();
        if (max - exp < -1) {
            return; // RFC 7143 §4.2.2.1: MaxCmdSN - ExpCmdSN < -1 — ignore both
        }
        if (exp - expCmdSn > 0) {
            expCmdSn = exp;
        }
        if (max - maxCmdSn > 0) {
            maxCmdSn = max;
            drain();
        }
    }

    /** The task a target PDU names; null (and handled) when there is none to give it to. */
    private Task task(Pdu pdu) {
        int itt = pdu.initiatorTaskTag();
        Task t = tasks.get(itt);
        if (t == null || !t.sent) {
            if (!abandoned.contains(itt)) {
                fatal(String.format("%s answered an unknown task tag 0x%08x", peer, itt));
            }
            return null;
        }
        return t;
    }

    private void dataIn(Pdu pdu) {
        int flags = pdu.flags();
        boolean status = (flags & 0x01) != 0;
        if (status) {
            statSn(pdu);
        } else {
            window(pdu);
        }
        Task t = task(pdu);
        if (t == null) {
            return;
        }
        ByteBuf data = pdu.content();
        int offset = pdu.intAt(40);
        int n = data.readableBytes();
        if (offset < 0 || n > t.readLength - offset || offset > t.readLength) {
            fatal(String.format("%s sent Data-In at offset %d+%d for a read of %d bytes", peer, offset, n, t.readLength));
            return;
        }
        if (n > 0) {
            if (offset != t.received) {
                // DataPDUInOrder=Yes and DataSequenceInOrder=Yes: each Data-In continues where the last ended,
                // so "received" is also the end of the filled part and nothing can be left unfilled.
                fatal(String.format("%s sent Data-In at offset %d where %d was expected (DataSN %d, itt 0x%08x)",
                        peer, offset, t.received, pdu.intAt(36), t.itt));
                return;
            }
            // No copy: the read's buffer is made of the Data-In segments themselves, in order.
            if (t.in == null && n == t.readLength) {
                t.in = data.retain();
            } else {
                if (t.in == null) {
                    t.in = channel.alloc().compositeBuffer(1024);
                }
                ((CompositeByteBuf) t.in).addComponent(true, data.retain());
            }
            t.received += n;
        }
        if (status) {
            finishRead(t, pdu.byteAt(3), null, (flags & 0x06) != 0 ? pdu.intAt(44) : 0);
        }
    }

    private void finishRead(Task t, int status, byte[] sense, int residual) {
        ByteBuf in = t.in;
        t.in = null;
        if (status != ScsiResult.GOOD && in != null) {
            in.release();
            in = null;
        }
        if (in != null && t.received < t.readLength) {
            in.writerIndex(t.received); // a short answer (INQUIRY and the like); READ checks its length
        }
        complete(t, new ScsiResult(status, sense, in));
    }

    private void response(Pdu pdu) {
        statSn(pdu);
        Task t = task(pdu);
        if (t == null) {
            return;
        }
        int response = pdu.byteAt(2);
        if (response != 0) {
            fail(t, new BlockDeviceException(Errno.EIO, String.format("%s: target failure (iSCSI response 0x%02x)",
                    peer, response)));
            return;
        }
        byte[] sense = null;
        ByteBuf d = pdu.content();
        if (d.readableBytes() >= 2) {
            int len = d.getUnsignedShort(d.readerIndex());
            sense = new byte[Math.min(len, d.readableBytes() - 2)];
            d.getBytes(d.readerIndex() + 2, sense);
        }
        finishRead(t, pdu.byteAt(3), sense, pdu.intAt(44));
    }

    private void r2t(Pdu pdu) {
        window(pdu);
        Task t = task(pdu);
        if (t == null) {
            return;
        }
        int offset = pdu.intAt(40);
        int length = pdu.intAt(44);
        int total = t.out == null ? 0 : t.out.readableBytes();
        if (offset < 0 || length <= 0 || length > total - offset || length > session.maxBurst()) {
            fatal(String.format("%s sent an R2T for %d+%d of a %d-byte write", peer, offset, length, total));
            return;
        }
        // No flush here: channelReadComplete flushes the answers to all the R2Ts of a read batch at once.
        dataOut(t, pdu.targetTransferTag(), offset, length);
    }

    private void nopIn(Pdu pdu) {
        if (pdu.initiatorTaskTag() != Pdu.RESERVED_TAG) {
            if (pdu.initiatorTaskTag() != pingItt) {
                fatal(String.format("%s answered a NOP-Out we did not send (task tag 0x%08x)", peer, pdu.initiatorTaskTag()));
                return;
            }
            pingItt = Pdu.RESERVED_TAG;
            statSn(pdu);
            return; // the answer to our ping: the link is alive
        }
        window(pdu); // a target ping does not advance StatSN
        if (pdu.targetTransferTag() != Pdu.RESERVED_TAG) {
            ByteBuf echo = pdu.content().isReadable() ? pdu.content().retainedSlice() : null;
            send(new Pdu.Header(Pdu.NOP_OUT, true, Pdu.FLAG_FINAL).u64(8, pdu.longAt(8)).u32(16, Pdu.RESERVED_TAG)
                    .u32(20, pdu.targetTransferTag()).u32(24, cmdSn).u32(28, expStatSn).with(echo), true);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        reading = false;
        channel.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String why = "protocol error from " + peer + ": " + cause.getMessage();
        if (session == null) {
            loginFailed("login to " + peer + " failed: " + cause.getMessage(), Errno.EIO);
        }
        fatal(why);
    }
}
