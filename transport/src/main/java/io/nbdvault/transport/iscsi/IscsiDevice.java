package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.Futures;
import io.nbdvault.core.Requests;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * An iSCSI LUN as a BlockDevice, over one session ({@link IscsiConnection}). Requests are cut into
 * commands of at most {@link #maxTransfer} bytes; a command that meets a UNIT ATTENTION (as after
 * every login) or a busy target is retried a few times, any other CHECK CONDITION becomes an error
 * saying what the sense data says. A lost session is logged in again in the background with the
 * same ISID (TSIH 0), so the target replaces the old one. Each request has one deadline (the request
 * timeout) that runs from its submission: the commands of a lost session, and those submitted while
 * there is none, wait for the next session and are issued again on it (block reads and writes are
 * idempotent); only when the deadline passes first do they fail, and the layer above routes around
 * this member.
 *
 * <p>Thread model: continuations run on the connection's event loop (where its futures complete);
 * the only state of this class shared across threads is the volatile current connection and flags.
 */
public final class IscsiDevice implements BlockDevice {
    private static final Logger LOG = Logger.getLogger(IscsiDevice.class.getName());
    private static final int RETRIES = 8;
    private static final int MAX_TRANSFER = 1 << 20;
    private static final byte[] ZEROES = new byte[MAX_TRANSFER];

    private final Bootstrap bootstrap;
    private final IscsiTarget target;
    /** The target as shown (no secret), built once: it is in every command's error path. */
    private final String peer;
    private final NbdClientOptions options;
    private final long size;
    private final int blockSize;
    private final int maxTransfer;
    private final boolean unmap;
    private final boolean writeSameUnmap;
    private final long maxUnmapBlocks;
    private volatile boolean writeSame = true;
    private volatile IscsiConnection connection;
    private volatile boolean closed;
    /** While there is no session: completes with the next one (or fails when the device closes). Guarded by this. */
    private CompletableFuture<IscsiConnection> nextSession;

    private IscsiDevice(Bootstrap bootstrap, IscsiTarget target, NbdClientOptions options, IscsiConnection first,
                        Geometry g) {
        this.bootstrap = bootstrap;
        this.target = target;
        this.peer = target.toString();
        this.options = options;
        this.size = g.size;
        this.blockSize = g.blockSize;
        this.maxTransfer = g.maxTransfer;
        this.unmap = g.unmap;
        this.writeSameUnmap = g.writeSameUnmap;
        this.maxUnmapBlocks = g.maxUnmapBlocks;
        install(first);
    }

    /** What the LUN says about itself on open. */
    record Geometry(long size, int blockSize, int maxTransfer, boolean unmap, boolean writeSameUnmap,
                    long maxUnmapBlocks) {
    }

    /** Logs in and asks the LUN for its size and limits; fails if it cannot be reached or is not a disk. */
    public static CompletableFuture<IscsiDevice> connect(Bootstrap bootstrap, IscsiTarget target, NbdClientOptions options) {
        return IscsiConnection.open(bootstrap, target, options.requestTimeout()).thenCompose(c -> probe(c, target)
                .handle((g, e) -> {
                    if (e != null) {
                        c.logout();
                        throw new CompletionException(BlockDeviceException.unwrap(e));
                    }
                    return new IscsiDevice(bootstrap, target, options, c, g);
                }));
    }

    private static CompletableFuture<Geometry> probe(IscsiConnection c, IscsiTarget target) {
        String peer = target.toString();
        return run(c, peer, Cdb.inquiry(-1, 96), null, 96).thenCompose(inquiry -> {
            int type = data(inquiry, 0) & 0x1f;
            inquiry.release();
            if (type != 0) {
                throw new CompletionException(new BlockDeviceException(Errno.EINVAL, peer + " is not a disk (SCSI "
                        + "peripheral device type 0x" + Integer.toHexString(type) + "; LUN 0 of tgtd is its controller)"));
            }
            return run(c, peer, Cdb.readCapacity16(), null, 32);
        }).thenCompose(capacity -> {
            ByteBuf d = capacity.data();
            if (d == null || d.readableBytes() < 12) {
                capacity.release();
                throw new CompletionException(new BlockDeviceException(Errno.EIO, peer + ": short READ CAPACITY(16) answer"));
            }
            long lastLba = d.getLong(d.readerIndex());
            int block = d.getInt(d.readerIndex() + 8);
            boolean lbpme = d.readableBytes() > 14 && (d.getByte(d.readerIndex() + 14) & 0x80) != 0;
            capacity.release();
            if (block < 512 || block > 65536 || Integer.bitCount(block) != 1) {
                throw new CompletionException(new BlockDeviceException(Errno.EIO, peer + " has a block size of " + block));
            }
            long size = (lastLba + 1) * block;
            return run(c, peer, Cdb.inquiry(0x00, 255), null, 255).thenCompose(pages -> {
                boolean b0 = false;
                boolean b2 = false;
                ByteBuf p = pages.data();
                int n = p == null || p.readableBytes() < 4 ? 0 : Math.min(p.readableBytes() - 4, p.getUnsignedShort(p.readerIndex() + 2));
                for (int i = 0; i < n; i++) {
                    int page = p.getUnsignedByte(p.readerIndex() + 4 + i);
                    b0 |= page == 0xb0;
                    b2 |= page == 0xb2;
                }
                pages.release();
                CompletableFuture<ScsiResult> limits = b0 ? run(c, peer, Cdb.inquiry(0xb0, 64), null, 64)
                        : CompletableFuture.completedFuture(new ScsiResult(0, null, null));
                CompletableFuture<ScsiResult> provisioning = b2 && lbpme ? run(c, peer, Cdb.inquiry(0xb2, 8), null, 8)
                        : CompletableFuture.completedFuture(new ScsiResult(0, null, null));
                return limits.thenCombine(provisioning, (l, lp) -> {
                    int maxTransfer = MAX_TRANSFER;
                    long maxUnmapBlocks = 0;
                    try {
                        ByteBuf ld = l.data();
                        if (ld != null && ld.readableBytes() >= 28) {
                            long mt = ld.getUnsignedInt(ld.readerIndex() + 8) * block;
                            if (mt > 0) {
                                maxTransfer = (int) Math.max(block, Math.min(maxTransfer, mt));
                            }
                            maxUnmapBlocks = ld.getUnsignedInt(ld.readerIndex() + 20);
                        }
                        ByteBuf pd = lp.data();
                        boolean lbpu = pd != null && pd.readableBytes() > 5 && (pd.getByte(pd.readerIndex() + 5) & 0x80) != 0;
                        boolean lbpws = pd != null && pd.readableBytes() > 5 && (pd.getByte(pd.readerIndex() + 5) & 0x40) != 0;
                        return new Geometry(size, block, maxTransfer / block * block, lbpu && maxUnmapBlocks > 0,
                                lbpws, maxUnmapBlocks);
                    } finally {
                        l.release();
                        lp.release();
                    }
                });
            });
        });
    }

    private static int data(ScsiResult r, int index) {
        ByteBuf d = r.data();
        return d == null || d.readableBytes() <= index ? -1 : d.getUnsignedByte(d.readerIndex() + index);
    }

    /** Runs a command to a GOOD status: retries unit attentions and a busy target, turns other sense into an error. */
    private static CompletableFuture<ScsiResult> run(IscsiConnection c, String peer, byte[] cdb, ByteBuf out, int readLength) {
        return attempt(c, peer, cdb, out, readLength, 0);
    }

    private static CompletableFuture<ScsiResult> attempt(IscsiConnection c, String peer, byte[] cdb, ByteBuf out,
                                                         int readLength, int tries) {
        return c.submit(cdb, out, readLength).thenCompose(r -> checked(r, tries, peer, delay -> delay == 0
                ? attempt(c, peer, cdb, out, readLength, tries + 1)
                : later(c.eventLoop(), delay, () -> attempt(c, peer, cdb, out, readLength, tries + 1))));
    }

    /** A command with its retry policy: what to do again, after how many milliseconds (0: at once). */
    private interface Retry {
        CompletableFuture<ScsiResult> after(long millis);
    }

    private static CompletableFuture<ScsiResult> later(java.util.concurrent.ScheduledExecutorService executor, long millis,
                                                       java.util.function.Supplier<CompletableFuture<ScsiResult>> what) {
        CompletableFuture<ScsiResult> later = new CompletableFuture<>();
        executor.schedule(() -> what.get().whenComplete((x, e) -> {
            if (e != null) {
                later.completeExceptionally(e);
            } else if (!later.complete(x)) {
                x.release();
            }
        }), millis, TimeUnit.MILLISECONDS);
        return later;
    }

    /** GOOD: the result; a unit attention or a busy target: again (a few times); anything else: an error. */
    private static CompletableFuture<ScsiResult> checked(ScsiResult r, int tries, String peer, Retry again) {
        if (r.status() == ScsiResult.GOOD) {
            return CompletableFuture.completedFuture(r);
        }
        r.release();
        Sense sense = r.status() == ScsiResult.CHECK_CONDITION ? Sense.parse(r.sense()) : null;
        boolean retry = sense != null && sense.key() == Sense.UNIT_ATTENTION
                || r.status() == ScsiResult.BUSY || r.status() == ScsiResult.TASK_SET_FULL;
        if (retry && tries < RETRIES) {
            return again.after(sense != null ? 0 : 10L << tries);
        }
        if (sense != null) {
            throw new CompletionException(sense.toException(peer));
        }
        throw new CompletionException(new BlockDeviceException(Errno.EIO, String.format("%s: SCSI status 0x%02x%s",
                peer, r.status(), r.status() == ScsiResult.RESERVATION_CONFLICT ? " (reservation conflict)" : "")));
    }

    private void install(IscsiConnection c) {
        CompletableFuture<IscsiConnection> waiters;
        synchronized (this) {
            connection = c;
            waiters = nextSession;
            nextSession = null;
        }
        if (waiters != null) {
            waiters.complete(c);
        }
        c.closeFuture().thenRun(() -> lost(c));
    }

    /** Once per session that ends: starts logging in again and returns what waits for the next session. */
    private CompletableFuture<IscsiConnection> lost(IscsiConnection c) {
        CompletableFuture<IscsiConnection> next;
        synchronized (this) {
            if (closed) {
                return Requests.failed(Errno.ESHUTDOWN, "connection to " + peer + " is closed");
            }
            if (connection != c) {
                return connection.isOpen() ? CompletableFuture.completedFuture(connection) : lost(connection);
            }
            if (nextSession != null) {
                return nextSession;
            }
            next = nextSession = new CompletableFuture<>();
        }
        LOG.warning("session with " + peer + " lost; logging in again");
        reconnect(options.minBackoff());
        return next;
    }

    private void reconnect(Duration delay) {
        if (closed) {
            return;
        }
        bootstrap.config().group().schedule(() -> IscsiConnection.open(bootstrap, target, options.requestTimeout())
                .thenCompose(c -> probe(c, target).handle((g, e) -> {
                    if (e != null || g.size() != size || g.blockSize() != blockSize) {
                        c.logout();
                        throw new CompletionException(e != null ? BlockDeviceException.unwrap(e)
                                : new BlockDeviceException(Errno.EIO, target + " came back with another size"));
                    }
                    return c;
                })).whenComplete((c, error) -> {
                    if (closed) {
                        if (c != null) {
                            c.logout();
                        }
                    } else if (error != null) {
                        LOG.fine(() -> "reconnecting to " + target + ": " + BlockDeviceException.unwrap(error).getMessage());
                        Duration next = delay.multipliedBy(2);
                        reconnect(next.compareTo(options.maxBackoff()) > 0 ? options.maxBackoff() : next);
                    } else {
                        LOG.info("session with " + peer + " re-established");
                        install(c);
                    }
                }), delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** True while a session is logged in. */
    public boolean isConnected() {
        IscsiConnection c = connection;
        return c != null && c.isOpen();
    }

    /** What the current session negotiated (for tests and status). */
    public Negotiated negotiated() {
        return connection.negotiated();
    }

    private CompletableFuture<ScsiResult> command(byte[] cdb, ByteBuf out, int readLength) {
        return command(cdb, out, readLength, System.nanoTime() + options.requestTimeout().toNanos(), 0);
    }

    /**
     * A command until its deadline: issued on the current session, or on the next one when there is
     * none or the session ends before it is answered.
     */
    private CompletableFuture<ScsiResult> command(byte[] cdb, ByteBuf out, int readLength, long deadline, int tries) {
        if (closed) {
            return Requests.failed(Errno.ESHUTDOWN, "connection to " + peer + " is closed");
        }
        IscsiConnection c = connection;
        CompletableFuture<ScsiResult> sent = c.isOpen() ? c.submit(cdb, out, readLength, deadline)
                : session(c, deadline).thenCompose(next -> next.submit(cdb, out, readLength, deadline));
        // One future per command on the way that nearly every command takes (a GOOD status).
        CompletableFuture<ScsiResult> result = new CompletableFuture<>();
        sent.whenComplete((r, e) -> {
            if (e == null && r.status() == ScsiResult.GOOD) {
                if (!result.complete(r)) {
                    r.release();
                }
                return;
            }
            CompletableFuture<ScsiResult> again;
            try {
                if (e == null) {
                    again = checked(r, tries, peer, delay -> delay == 0 ? command(cdb, out, readLength, deadline, tries + 1)
                            : later(c.eventLoop(), delay, () -> command(cdb, out, readLength, deadline, tries + 1)));
                } else {
                    Throwable cause = BlockDeviceException.unwrap(e);
                    if (!(cause instanceof IscsiConnection.SessionLost) || closed || deadline - System.nanoTime() <= 0) {
                        result.completeExceptionally(cause);
                        return;
                    }
                    again = command(cdb, out, readLength, deadline, tries);
                }
            } catch (CompletionException thrown) {
                result.completeExceptionally(BlockDeviceException.unwrap(thrown));
                return;
            }
            again.whenComplete((r2, e2) -> {
                if (e2 != null) {
                    result.completeExceptionally(BlockDeviceException.unwrap(e2));
                } else if (!result.complete(r2)) {
                    r2.release();
                }
            });
        });
        return result;
    }

    /** The next session, or a failure when {@code deadline} comes first. */
    private CompletableFuture<IscsiConnection> session(IscsiConnection gone, long deadline) {
        CompletableFuture<IscsiConnection> next = lost(gone);
        if (next.isDone()) {
            return next;
        }
        CompletableFuture<IscsiConnection> mine = new CompletableFuture<>();
        ScheduledFuture<?> timer = bootstrap.config().group().schedule(() -> mine.completeExceptionally(
                new BlockDeviceException(Errno.EIO, "command to " + peer + " timed out after "
                        + options.requestTimeout().toMillis() + " ms waiting for a new session")),
                Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        next.whenComplete((c, e) -> {
            timer.cancel(false);
            if (e != null) {
                mine.completeExceptionally(e);
            } else {
                mine.complete(c);
            }
        });
        return mine;
    }

    private BlockDeviceException unaligned(long offset, long length) {
        return new BlockDeviceException(Errno.EINVAL, "request " + offset + "+" + length + " is not aligned to the "
                + blockSize + "-byte blocks of " + target);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(false, true, true, unmap || writeSameUnmap, true, false, false, false, false);
    }

    private long alignDown(long v) {
        return v - Math.floorMod(v, (long) blockSize);
    }

    private long alignUp(long v) {
        return alignDown(v + blockSize - 1);
    }

    private boolean aligned(long offset, long length) {
        return offset % blockSize == 0 && length % blockSize == 0;
    }

    /**
     * SCSI reads whole blocks: a request that does not cover whole blocks (a superblock probe of a
     * few bytes) reads the blocks around it and hands out the part asked for.
     */
    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        if (!aligned(offset, length)) {
            long start = alignDown(offset);
            long end = alignUp(offset + length);
            if (end - start > Integer.MAX_VALUE) {
                return CompletableFuture.failedFuture(unaligned(offset, length));
            }
            return readAligned(start, (int) (end - start)).thenApply(whole -> {
                try {
                    return whole.retainedSlice(whole.readerIndex() + (int) (offset - start), length);
                } finally {
                    whole.release();
                }
            });
        }
        return readAligned(offset, length);
    }

    private CompletableFuture<ByteBuf> readAligned(long offset, int length) {
        if (length == 0) {
            return CompletableFuture.completedFuture(Unpooled.EMPTY_BUFFER);
        }
        if (length <= maxTransfer) {
            return readCommand(offset, length);
        }
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>();
        for (long pos = 0; pos < length; pos += maxTransfer) {
            int n = (int) Math.min(maxTransfer, length - pos);
            parts.add(readCommand(offset + pos, n));
        }
        return Futures.concat(parts);
    }

    /** One READ(16) of {@code n} bytes at {@code at}, at most {@link #maxTransfer}. */
    private CompletableFuture<ByteBuf> readCommand(long at, int n) {
        return command(Cdb.read16(at / blockSize, n / blockSize, false), null, n).thenApply(r -> {
            if (r.data() == null || r.data().readableBytes() != n) {
                int got = r.data() == null ? 0 : r.data().readableBytes();
                r.release();
                throw new CompletionException(new BlockDeviceException(Errno.EIO, peer + " returned " + got
                        + " of " + n + " bytes at offset " + at));
            }
            return r.data();
        });
    }

    /**
     * A write that does not cover whole blocks reads the blocks around it, patches them and writes
     * them back (read-modify-write). The layers above write whole blocks of {@link #blockSize()} on the
     * data path; this is for their small metadata updates. Two such writes into the same block at
     * the same time are not serialised here.
     */
    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        int length = data.readableBytes();
        if (!aligned(offset, length)) {
            long start = alignDown(offset);
            long end = alignUp(offset + length);
            if (end - start > Integer.MAX_VALUE) {
                return CompletableFuture.failedFuture(unaligned(offset, length));
            }
            ByteBuf patch = data.retainedSlice();
            return readAligned(start, (int) (end - start)).handle((whole, error) -> {
                if (error != null) {
                    patch.release();
                    return CompletableFuture.<Void>failedFuture(BlockDeviceException.unwrap(error));
                }
                ByteBuf copy = ByteBufAllocator.DEFAULT.directBuffer((int) (end - start));
                copy.writeBytes(whole, whole.readerIndex(), whole.readableBytes());
                whole.release();
                copy.setBytes((int) (offset - start), patch, patch.readerIndex(), length);
                patch.release();
                return writeAligned(start, copy, flags).whenComplete((ok, e) -> copy.release());
            }).thenCompose(f -> f);
        }
        return writeAligned(offset, data, flags);
    }

    private CompletableFuture<Void> writeAligned(long offset, ByteBuf data, int flags) {
        int length = data.readableBytes();
        boolean fua = WriteFlags.has(flags, WriteFlags.FUA);
        if (length <= maxTransfer) {
            return command(Cdb.write16(offset / blockSize, length / blockSize, fua), data, 0).thenAccept(ScsiResult::release);
        }
        List<CompletableFuture<ScsiResult>> parts = new ArrayList<>();
        for (int pos = 0; pos < length; pos += maxTransfer) {
            int n = Math.min(maxTransfer, length - pos);
            parts.add(command(Cdb.write16((offset + pos) / blockSize, n / blockSize, fua),
                    data.slice(data.readerIndex() + pos, n), 0));
        }
        return allDone(parts);
    }

    private static CompletableFuture<Void> allDone(List<CompletableFuture<ScsiResult>> parts) {
        if (parts.size() == 1) {
            return parts.get(0).thenAccept(ScsiResult::release);
        }
        return CompletableFuture.allOf(parts.stream().map(p -> p.thenAccept(ScsiResult::release))
                .toArray(CompletableFuture[]::new));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return command(Cdb.synchronizeCache16(), null, 0).thenAccept(ScsiResult::release);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        if (!aligned(offset, length)) {
            // A discard is advice: only the whole blocks inside the range are discarded.
            long start = alignUp(offset);
            long end = alignDown(offset + length);
            return end > start ? trim(start, end - start, flags) : Requests.done();
        }
        if (!unmap && !writeSameUnmap) {
            return zeroWrites(offset, length, flags);
        }
        long maxBlocks = unmap ? Math.min(maxUnmapBlocks, 0xffffffffL) : 65536;
        List<CompletableFuture<ScsiResult>> parts = new ArrayList<>();
        for (long pos = 0; pos < length; pos += maxBlocks * blockSize) {
            long lba = (offset + pos) / blockSize;
            int blocks = (int) Math.min(maxBlocks, (length - pos) / blockSize);
            if (unmap) {
                byte[] p = Cdb.unmapParameters(lba, blocks);
                parts.add(command(Cdb.unmap(p.length), Unpooled.wrappedBuffer(p), 0));
            } else {
                parts.add(command(Cdb.writeSame16(lba, blocks, true), Unpooled.wrappedBuffer(ZEROES, 0, blockSize), 0));
            }
        }
        return allDone(parts).thenCompose(x -> WriteFlags.has(flags, WriteFlags.FUA) ? flush() : Requests.done());
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        if (!aligned(offset, length)) {
            // the partial blocks at either end are written as data, the whole blocks between as zeroes
            long start = alignUp(offset);
            long end = Math.max(start, alignDown(offset + length));
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            long headEnd = Math.min(offset + length, start);
            if (headEnd > offset) {
                parts.add(write(offset, Unpooled.wrappedBuffer(ZEROES, 0, (int) (headEnd - offset)), flags & WriteFlags.FUA));
            }
            if (end > start) {
                parts.add(writeZeroes(start, end - start, flags));
            }
            if (offset + length > end && end >= headEnd) {
                parts.add(write(end, Unpooled.wrappedBuffer(ZEROES, 0, (int) (offset + length - end)), flags & WriteFlags.FUA));
            }
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        }
        if (!writeSame) {
            if (WriteFlags.has(flags, WriteFlags.FAST_ZERO)) {
                return Requests.failed(Errno.ENOTSUP, target + " has no fast zeroing");
            }
            return zeroWrites(offset, length, flags);
        }
        boolean deallocate = writeSameUnmap && !WriteFlags.has(flags, WriteFlags.NO_HOLE);
        List<CompletableFuture<ScsiResult>> parts = new ArrayList<>();
        long maxBlocks = 65536;
        for (long pos = 0; pos < length; pos += maxBlocks * blockSize) {
            int blocks = (int) Math.min(maxBlocks, (length - pos) / blockSize);
            parts.add(command(Cdb.writeSame16((offset + pos) / blockSize, blocks, deallocate),
                    Unpooled.wrappedBuffer(ZEROES, 0, blockSize), 0));
        }
        return allDone(parts).handle((ok, e) -> {
            if (e == null) {
                return WriteFlags.has(flags, WriteFlags.FUA) ? flush() : Requests.done();
            }
            if (BlockDeviceException.errnoOf(e) == Errno.ENOTSUP) {
                writeSame = false; // the target does not know WRITE SAME(16): write zeroes from now on
                return writeZeroes(offset, length, flags);
            }
            return CompletableFuture.<Void>failedFuture(BlockDeviceException.unwrap(e));
        }).thenCompose(f -> f);
    }

    private CompletableFuture<Void> zeroWrites(long offset, long length, int flags) {
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long pos = 0; pos < length; pos += ZEROES.length) {
            int n = (int) Math.min(ZEROES.length, length - pos);
            parts.add(write(offset + pos, Unpooled.wrappedBuffer(ZEROES, 0, n), flags & WriteFlags.FUA));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return CompletableFuture.completedFuture(List.of(Extent.data(length)));
    }

    /** Stops reconnecting and logs out; completes when the session is gone (never blocks). */
    public CompletableFuture<Void> closeAsync() {
        CompletableFuture<IscsiConnection> waiters;
        synchronized (this) {
            closed = true;
            waiters = nextSession;
            nextSession = null;
        }
        if (waiters != null) {
            waiters.completeExceptionally(new BlockDeviceException(Errno.ESHUTDOWN, "connection to " + peer + " is closed"));
        }
        IscsiConnection c = connection;
        return c == null ? Requests.done() : c.logout();
    }

    @Override
    public void close() {
        CompletableFuture<Void> done = closeAsync();
        IscsiConnection c = connection;
        if (c != null && !c.eventLoop().inEventLoop()) {
            try {
                done.get(Math.min(options.requestTimeout().toMillis(), 3000), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                LOG.fine(() -> "logout from " + target + ": " + e);
            }
        }
    }

    @Override
    public String toString() {
        return target.toString();
    }
}
