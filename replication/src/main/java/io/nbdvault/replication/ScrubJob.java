package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Futures;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;

/**
 * Compares the readable copies region by region (writes paused for each, so a write in flight is
 * never mistaken for a mismatch). With {@code repair}, the copies that differ are rewritten from
 * the content most copies agree on (with three copies one bad copy is outvoted; on a tie, the
 * first copy's). Completes with the number of regions that differed.
 */
final class ScrubJob extends RegionJob {
    private static final Logger LOG = Logger.getLogger(ScrubJob.class.getName());
    private final CopySet copies;
    private final boolean repair;

    ScrubJob(CopySet copies, WriteGate gate, boolean repair, ProgressListener progress, ScheduledExecutorService control) {
        super(gate, List.of(new long[] {0, copies.size()}), 0, progress, control);
        this.copies = copies;
        this.repair = repair;
    }

    @Override
    protected CompletableFuture<Long> step(long pos, int n) {
        List<Integer> sources = copies.readable();
        if (sources.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no readable copy to scrub"));
        }
        List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
        for (int c : sources) {
            reads.add(copies.device(c).read(pos, n));
        }
        return Futures.all(reads).handle((ok, error) -> {
            if (error != null) {
                reads.forEach(r -> r.thenAccept(ByteBuf::release));
                throw new CompletionException(BlockDeviceException.unwrap(error));
            }
            return reads.stream().map(CompletableFuture::join).toList();
        }).thenCompose(data -> compare(pos, sources, data).whenComplete((found, e) -> data.forEach(ByteBuf::release)));
    }

    private CompletableFuture<Long> compare(long pos, List<Integer> sources, List<ByteBuf> data) {
        int winner = majority(data);
        List<CompletableFuture<Void>> fixes = new ArrayList<>();
        boolean mismatch = false;
        for (int i = 0; i < data.size(); i++) {
            if (!same(data.get(winner), data.get(i))) {
                mismatch = true;
                int copy = sources.get(i);
                LOG.warning("scrub: " + copies.device(copy) + " differs at " + pos + "+" + data.get(i).readableBytes()
                        + (repair ? "; rewriting it from " + copies.device(sources.get(winner)) : ""));
                if (repair) {
                    fixes.add(copies.device(copy).write(pos, data.get(winner), WriteFlags.FUA));
                }
            }
        }
        long found = mismatch ? 1 : 0;
        return Futures.all(fixes).thenApply(x -> found);
    }

    /** Byte-wise equality through NIO views: one bulk comparison (vectorised), not one tracked access per long. */
    private static boolean same(ByteBuf a, ByteBuf b) {
        return a.readableBytes() == b.readableBytes()
                && a.nioBuffer(a.readerIndex(), a.readableBytes()).equals(b.nioBuffer(b.readerIndex(), b.readableBytes()));
    }

    /** The index of a buffer that the most buffers equal (the first such on a tie). */
    private static int majority(List<ByteBuf> data) {
        int best = 0;
        int bestVotes = 0;
        for (int i = 0; i < data.size(); i++) {
            int votes = 0;
            for (ByteBuf other : data) {
                if (same(data.get(i), other)) {
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
}
