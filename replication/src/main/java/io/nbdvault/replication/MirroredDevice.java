package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.Futures;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * RAID-1E over the copies of a {@link CopySet}: only I/O. An update goes to every copy in service
 * (the same buffer, no copies made) through {@link QuorumWrite}: it succeeds when every copy has
 * answered (or its write quorum has) and an up-to-date copy took it; a copy that fails it is taken
 * out of service. Reads are spread: large ones are split so every
 * readable copy serves a share, small ones go to the least busy copy; a read that fails is retried
 * on another copy and the range rewritten on the copies that failed it (with integrity, a block
 * that fails its check is such a failure, see {@link TaggedDevice}). When every copy fails a
 * read with an error (an unreadable sector everywhere), the caller gets EIO and the copies stay in
 * service, as md does; a copy that does not answer in time is failed.
 *
 * <p>Threads: no locks; continuations run on whichever thread completes a copy's request (a
 * transport event loop, a file I/O thread, or the deadline timer).
 */
public final class MirroredDevice implements BlockDevice {
    private static final Logger LOG = Logger.getLogger(MirroredDevice.class.getName());
    /** Reads at least this large are split across copies so each contributes bandwidth. */
    static final int SPLIT_THRESHOLD = 256 * 1024;

    private final CopySet copies;
    private final int writeQuorum;
    private final long maxLag;

    MirroredDevice(CopySet copies) {
        this(copies, 0, 0);
    }

    /** With {@code writeQuorum} > 0, writes and flushes are acknowledged by that many up-to-date copies ({@link QuorumWrite}). */
    MirroredDevice(CopySet copies, int writeQuorum, long maxLag) {
        this.copies = copies;
        this.writeQuorum = writeQuorum;
        this.maxLag = maxLag;
    }

    CopySet copies() {
        return copies;
    }

    @Override
    public long size() {
        return copies.size();
    }

    @Override
    public int blockSize() {
        return copies.all().stream().mapToInt(BlockDevice::blockSize).max().orElse(512);
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = copies.device(0).capabilities();
        for (BlockDevice d : copies.all()) {
            c = c.and(d.capabilities());
        }
        return c;
    }

    private <T> CompletableFuture<T> onCopy(int copy, Function<BlockDevice, CompletableFuture<T>> op) {
        return Futures.call(() -> op.apply(copies.device(copy)));
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        List<Integer> targets = copies.readable();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no live copy left in the mirror"));
        }
        if (length < SPLIT_THRESHOLD || targets.size() == 1) {
            return readFrom(copies.leastBusy(targets), offset, length, new ArrayList<>());
        }
        // Each readable copy serves one contiguous share, in proportion to its recent speed and
        // aligned to 4 KiB; a slow copy still gets at least 4 KiB, the last one takes the rest.
        double[] shares = copies.readShares(targets);
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>();
        int pos = 0;
        for (int i = 0; i < targets.size() && pos < length; i++) {
            int n = i == targets.size() - 1 ? length - pos
                    : Math.min(length - pos, Math.max(4096, (int) (length * shares[i]) & ~4095));
            parts.add(readFrom(targets.get(i), offset + pos, n, new ArrayList<>()));
            pos += n;
        }
        return Futures.concat(parts);
    }

    /** Reads from {@code copy}; on failure tries the other readable copies, then repairs the ones that failed. */
    private CompletableFuture<ByteBuf> readFrom(int copy, long offset, int length, List<Integer> bad) {
        return onCopy(copy, d -> d.read(offset, length)).handle((data, error) -> {
            if (error == null) {
                repair(bad, offset, data);
                return CompletableFuture.completedFuture(data);
            }
            Throwable cause = BlockDeviceException.unwrap(error);
            if (cause instanceof TimeoutException) {
                copies.fail(copy, new BlockDeviceException(Errno.EIO, "read timed out: " + cause.getMessage(), cause));
            } else {
                bad.add(copy);
                if (cause instanceof CorruptBlocksException corrupt
                        && corrupt.memberTotal() >= ArrayIntegrity.FAIL_AFTER_CORRUPT_BLOCKS) {
                    // A copy that keeps returning blocks it cannot vouch for is failed like one that errors.
                    copies.fail(copy, corrupt);
                }
            }
            List<Integer> others = copies.readable().stream().filter(c -> c != copy && !bad.contains(c)).toList();
            if (others.isEmpty()) {
                // Every copy answered with an error for this range: report it, and keep the copies
                // (they serve every other range); failing them all would take the group offline.
                return CompletableFuture.<ByteBuf>failedFuture(new BlockDeviceException(Errno.EIO,
                        "read " + offset + "+" + length + " failed on every copy: " + cause.getMessage(), cause));
            }
            return readFrom(copies.leastBusy(others), offset, length, bad);
        }).thenCompose(f -> f);
    }

    /**
     * Rewrites a range on copies whose read failed; a copy that cannot take the rewrite is failed.
     * Each rewrite sends a copy of {@code good}: the read's buffer goes to the caller, whose it is
     * from then on (the encryption layer decrypts it in place while the rewrite may still be
     * waiting to be sent, which would write plaintext over the copy being repaired).
     */
    private void repair(List<Integer> bad, long offset, ByteBuf good) {
        for (int copy : bad) {
            if (!copies.isLive(copy)) {
                continue;
            }
            ByteBuf data = good.copy();
            int length = data.readableBytes();
            onCopy(copy, d -> d.write(offset, data, WriteFlags.FUA)).whenComplete((ok, error) -> {
                data.release();
                if (error != null) {
                    copies.fail(copy, error);
                } else {
                    LOG.info("repaired " + length + " bytes at " + offset + " on " + copies.device(copy));
                }
            });
        }
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return writeOutcome(offset, data, flags).acknowledged();
    }

    /** A write, with both moments: acknowledged (quorum) and settled (every copy answered; {@code data} is needed until then). */
    QuorumWrite.Outcome writeOutcome(long offset, ByteBuf data, int flags) {
        byte[] tags = tagsOnce(offset, data);
        return QuorumWrite.run(copies, writeQuorum, maxLag, offset, data.readableBytes(),
                copy -> Futures.call(() -> copies.device(copy).write(offset, data, flags, tags)), "write");
    }

    /** With integrity, the update's tags, computed once here rather than once per copy (they are the same on all). */
    private byte[] tagsOnce(long offset, ByteBuf data) {
        for (int c = 0; c < copies.count(); c++) {
            TaggedDevice t = copies.device(c).tagged();
            if (t != null) {
                return t.tagsFor(offset, data);
            }
        }
        return null;
    }

    @Override
    public CompletableFuture<Void> flush() {
        return QuorumWrite.run(copies, writeQuorum, maxLag, 0, 0, copy -> onCopy(copy, BlockDevice::flush), "flush")
                .acknowledged();
    }

    /** Trim and zeroes wait for every copy (no quorum), but still reach a lagging copy after the writes it owes the range. */
    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return QuorumWrite.run(copies, 0, maxLag, offset, length, copy -> onCopy(copy, d -> d.trim(offset, length, flags)),
                "trim").acknowledged();
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return QuorumWrite.run(copies, 0, maxLag, offset, length,
                copy -> onCopy(copy, d -> d.writeZeroes(offset, length, flags)), "write zeroes").acknowledged();
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        List<Integer> targets = copies.readable();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no live copy left in the mirror"));
        }
        return onCopy(targets.get(0), d -> d.blockStatus(offset, length));
    }

    /** Closes every copy's device. */
    @Override
    public void close() {
        copies.all().forEach(BlockDevice::close);
    }
}
