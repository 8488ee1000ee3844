package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Futures;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * Compares the readable copies region by region (writes paused for each, so a write in flight is
 * never mistaken for a mismatch) and, unless only checking, makes them agree.
 *
 * <p>With integrity, block by block: the good content is that of a copy whose tag verifies (when
 * verifying copies disagree, one holds older data that was once valid: the most of them wins, on
 * a tie the first in slot order); every other copy is reported bad at that block and rewritten
 * from it. A block no copy vouches for is reported and left alone (reads give EIO), except when
 * settling after a crash ({@link Mode#SETTLE}), where it is the last write, unacknowledged, that
 * left data and tag disagreeing: the content most copies hold is re-tagged everywhere.
 *
 * <p>Without integrity the content most copies agree on wins, region by region (with three copies
 * one bad copy is outvoted; on a tie, the first copy's).
 *
 * <p>Completes with what differed: blocks with integrity, regions without.
 */
final class ScrubJob extends RegionJob {
    enum Mode {
        /** Report only. */
        CHECK,
        /** Report and rewrite the copies that differ from the good content. */
        REPAIR,
        /** REPAIR, and give blocks no copy vouches for a fresh tag (the regions dirty at a crash). */
        SETTLE
    }

    private static final Logger LOG = Logger.getLogger(ScrubJob.class.getName());
    private final CopySet copies;
    private final Mode mode;

    ScrubJob(CopySet copies, WriteGate gate, Mode mode, List<long[]> ranges, ProgressListener progress,
             ScheduledExecutorService control) {
        super(gate, ranges, 0, progress, control);
        this.copies = copies;
        this.mode = mode;
    }

    @Override
    protected CompletableFuture<Long> step(long pos, int n) {
        List<Integer> sources = copies.readable();
        if (sources.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no readable copy to scrub"));
        }
        if (copies.device(sources.get(0)).tagged() != null) {
            return readAll(sources, c -> copies.device(c).tagged().readChecked(pos, n))
                    .thenCompose(checked -> blockByBlock(pos, sources, checked)
                            .whenComplete((found, e) -> checked.forEach(c -> c.data().release())));
        }
        return readAll(sources, c -> copies.device(c).read(pos, n))
                .thenCompose(data -> byMajority(pos, sources, data).whenComplete((found, e) -> data.forEach(ByteBuf::release)));
    }

    /** Every source's read, or a failure once all finished (the buffers of those that succeeded released). */
    private static <T> CompletableFuture<List<T>> readAll(List<Integer> sources, Function<Integer, CompletableFuture<T>> read) {
        List<CompletableFuture<T>> reads = new ArrayList<>();
        for (int c : sources) {
            reads.add(Futures.call(() -> read.apply(c)));
        }
        return Futures.all(reads).handle((ok, error) -> {
            if (error != null) {
                reads.forEach(r -> r.thenAccept(ScrubJob::release));
                throw new CompletionException(BlockDeviceException.unwrap(error));
            }
            return reads.stream().map(CompletableFuture::join).toList();
        });
    }

    private static void release(Object o) {
        if (o instanceof ByteBuf b) {
            b.release();
        } else if (o instanceof TaggedDevice.Checked c) {
            c.data().release();
        }
    }

    private CompletableFuture<Long> blockByBlock(long pos, List<Integer> sources, List<TaggedDevice.Checked> checked) {
        int unit = copies.device(sources.get(0)).tagged().unit();
        int blocks = checked.get(0).data().readableBytes() / unit;
        long first = pos / unit;
        int count = sources.size();
        BitSet[] bad = new BitSet[count];
        BitSet[] rewrite = new BitSet[count];
        Arrays.setAll(bad, i -> new BitSet());
        Arrays.setAll(rewrite, i -> new BitSet());
        int[] winners = new int[blocks];
        long found = 0;
        long unvouched = 0;
        for (int b = 0; b < blocks; b++) {
            List<Integer> verifying = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                if (!checked.get(i).bad().get(b)) {
                    verifying.add(i);
                }
            }
            if (!verifying.isEmpty()) {
                int winner = majority(verifying, checked, b * unit, unit);
                winners[b] = winner;
                for (int i = 0; i < count; i++) {
                    if (!verifying.contains(i) || !same(checked.get(i).data(), checked.get(winner).data(), b * unit, unit)) {
                        rewrite[i].set(b);
                        // Settling repairs what a crash left half-written: expected there, not damage to report.
                        if (mode != Mode.SETTLE) {
                            bad[i].set(b);
                            found++;
                        }
                    }
                }
            } else if (mode == Mode.SETTLE) {
                List<Integer> all = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    all.add(i);
                    rewrite[i].set(b);
                }
                winners[b] = majority(all, checked, b * unit, unit);
            } else {
                unvouched++;
                LOG.severe("scrub: no copy of group block at member offset " + (first + b) * unit
                        + " passes its integrity check; reads of it fail with EIO");
            }
        }
        for (int i = 0; i < count; i++) {
            if (!bad[i].isEmpty()) {
                copies.device(sources.get(i)).tagged().noteBad(first, bad[i]);
            }
        }
        List<CompletableFuture<Void>> fixes = new ArrayList<>();
        if (mode != Mode.CHECK) {
            for (int i = 0; i < count; i++) {
                int target = sources.get(i);
                // Consecutive blocks taken from the same copy go as one write.
                for (int b = rewrite[i].nextSetBit(0); b >= 0; ) {
                    int end = b + 1;
                    while (end < blocks && rewrite[i].get(end) && winners[end] == winners[b]) {
                        end++;
                    }
                    ByteBuf good = checked.get(winners[b]).data();
                    ByteBuf run = good.retainedSlice(good.readerIndex() + b * unit, (end - b) * unit);
                    long at = (first + b) * unit;
                    fixes.add(Futures.call(() -> copies.device(target).write(at, run, WriteFlags.FUA))
                            .whenComplete((x, e) -> run.release()));
                    b = rewrite[i].nextSetBit(end);
                }
            }
        }
        long result = found + unvouched;
        return Futures.all(fixes).thenApply(x -> result);
    }

    /** Among {@code candidates}, the one whose block most of them hold (the first on a tie). */
    private static int majority(List<Integer> candidates, List<TaggedDevice.Checked> checked, int at, int unit) {
        return majority(candidates, i -> checked.get(i).data(), at, unit);
    }

    /**
     * Among {@code candidates}, the one whose bytes [at, at + length) of {@code data} most of them
     * hold (the first on a tie).
     */
    private static int majority(List<Integer> candidates, java.util.function.IntFunction<ByteBuf> data, int at, int length) {
        int best = candidates.get(0);
        int bestVotes = 0;
        for (int i : candidates) {
            int votes = 0;
            for (int j : candidates) {
                if (same(data.apply(i), data.apply(j), at, length)) {
                    votes++;
                }
            }
            if (votes > bestVotes) {
                best = i;
                bestVotes = votes;
            }
        }
        return best;
    }

    private CompletableFuture<Long> byMajority(long pos, List<Integer> sources, List<ByteBuf> data) {
        // Every read is of the same range, so of the same length.
        int winner = majority(java.util.stream.IntStream.range(0, data.size()).boxed().toList(), data::get, 0,
                data.get(0).readableBytes());
        List<CompletableFuture<Void>> fixes = new ArrayList<>();
        boolean mismatch = false;
        for (int i = 0; i < data.size(); i++) {
            if (!same(data.get(winner), data.get(i))) {
                mismatch = true;
                int copy = sources.get(i);
                LOG.warning("scrub: " + copies.device(copy) + " differs at " + pos + "+" + data.get(i).readableBytes()
                        + (mode != Mode.CHECK ? "; rewriting it from " + copies.device(sources.get(winner)) : ""));
                if (mode != Mode.CHECK) {
                    fixes.add(copies.device(copy).write(pos, data.get(winner), WriteFlags.FUA));
                }
            }
        }
        long found = mismatch ? 1 : 0;
        return Futures.all(fixes).thenApply(x -> found);
    }

    /** Byte-wise equality through NIO views: one bulk comparison (vectorised), not one tracked access per long. */
    private static boolean same(ByteBuf a, ByteBuf b) {
        return a.readableBytes() == b.readableBytes() && same(a, b, 0, a.readableBytes());
    }

    private static boolean same(ByteBuf a, ByteBuf b, int at, int length) {
        if (a.nioBufferCount() != 1 || b.nioBufferCount() != 1) {
            // A reply gathered from several socket reads: one NIO view of it would be an allocated
            // copy, and comparing long by long looks up the piece on every access (and, under the
            // leak detector's advanced levels, records a stack trace each time, which stalled the
            // event loop for seconds). Two bulk copies and one vectorised comparison instead.
            byte[] x = new byte[length];
            byte[] y = new byte[length];
            a.getBytes(a.readerIndex() + at, x);
            b.getBytes(b.readerIndex() + at, y);
            return java.util.Arrays.equals(x, y);
        }
        return a.nioBuffer(a.readerIndex() + at, length).equals(b.nioBuffer(b.readerIndex() + at, length));
    }

}
