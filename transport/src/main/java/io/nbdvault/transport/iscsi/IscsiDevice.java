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

/**
 * An iSCSI LUN as a BlockDevice, over one session ({@link IscsiConnection}). Requests are cut into
 * commands of at most {@link #maxTransfer} bytes; a command that meets a UNIT ATTENTION (as after
 * every login) or a busy target is retried a few times, any other CHECK CONDITION becomes an error
 * saying what the sense data says. A lost session fails its commands at once and is logged in again
 * in the background with the same ISID (TSIH 0), so the target replaces the old one; while there is
 * none, requests fail fast and the layer above routes around this member.
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

    private IscsiDevice(Bootstrap bootstrap, IscsiTarget target, NbdClientOptions options, IscsiConnection first,
                        Geometry g) {
        this.bootstrap = bootstrap;
        this.target = target;
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
        return c.submit(cdb, out, readLength).thenCompose(r -> {
            if (r.status() == ScsiResult.GOOD) {
                return CompletableFuture.completedFuture(r);
            }
            r.release();
            Sense sense = r.status() == ScsiResult.CHECK_CONDITION ? Sense.parse(r.sense()) : null;
            boolean retry = sense != null && sense.key() == Sense.UNIT_ATTENTION
                    || r.status() == ScsiResult.BUSY || r.status() == ScsiResult.TASK_SET_FULL;
            if (retry && tries < RETRIES) {
                if (sense != null) {
                    return attempt(c, peer, cdb, out, readLength, tries + 1);
                }
                CompletableFuture<ScsiResult> later = new CompletableFuture<>();
                c.eventLoop().schedule(() -> attempt(c, peer, cdb, out, readLength, tries + 1).whenComplete((x, e) -> {
                    if (e != null) {
                        later.completeExceptionally(e);
                    } else if (!later.complete(x)) {
                        x.release();
                    }
                }), 10L << tries, TimeUnit.MILLISECONDS);
                return later;
            }
            if (sense != null) {
                throw new CompletionException(sense.toException(peer));
            }
            throw new CompletionException(new BlockDeviceException(Errno.EIO, String.format("%s: SCSI status 0x%02x%s",
                    peer, r.status(), r.status() == ScsiResult.RESERVATION_CONFLICT ? " (reservation conflict)" : "")));
        });
    }

    private void install(IscsiConnection c) {
        connection = c;
        c.closeFuture().thenRun(() -> {
            if (!closed) {
                LOG.warning("session with " + target + " lost; logging in again");
                reconnect(options.minBackoff());
            }
        });
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
                        LOG.info("session with " + target + " re-established");
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
        if (closed) {
            return Requests.failed(Errno.ESHUTDOWN, "connection to " + target + " is closed");
        }
        IscsiConnection c = connection;
        if (c == null || !c.isOpen()) {
            return Requests.failed(Errno.EIO, "no session with " + target + " (reconnecting)");
        }
        return run(c, target.toString(), cdb, out, readLength);
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
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>();
        for (long pos = 0; pos < length; pos += maxTransfer) {
            int n = (int) Math.min(maxTransfer, length - pos);
            long at = offset + pos;
            parts.add(command(Cdb.read16(at / blockSize, n / blockSize, false), null, n).thenApply(r -> {
                if (r.data() == null || r.data().readableBytes() != n) {
                    int got = r.data() == null ? 0 : r.data().readableBytes();
                    r.release();
                    throw new CompletionException(new BlockDeviceException(Errno.EIO, target + " returned " + got
                            + " of " + n + " bytes at offset " + at));
                }
                return r.data();
            }));
        }
        return Futures.concat(parts);
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
        closed = true;
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
