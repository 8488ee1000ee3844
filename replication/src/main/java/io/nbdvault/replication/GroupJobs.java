package io.nbdvault.replication;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * Runs one mirror group's background jobs one at a time (each pauses the group's writes step by
 * step, and they share the source copies), in the order they were asked for. Knows every job
 * queued or running, so shutdown can cancel them all.
 */
final class GroupJobs {
    private final CopySet copies;
    private final WriteGate gate;
    private final WriteIntentBitmap bitmap;
    private final ScheduledExecutorService control;
    private final List<RegionJob> jobs = new CopyOnWriteArrayList<>();
    private CompletableFuture<?> queue = CompletableFuture.completedFuture(null);

    GroupJobs(CopySet copies, WriteGate gate, WriteIntentBitmap bitmap, ScheduledExecutorService control) {
        this.copies = copies;
        this.gate = gate;
        this.bitmap = bitmap;
        this.control = control;
    }

    /**
     * Resynchronises {@code target}: only the bitmap's regions with {@code onlyDirty}, else all of
     * it. The copy takes writes from this moment; completes with the bytes copied.
     */
    CompletableFuture<Long> resync(int target, boolean onlyDirty, long rate, ProgressListener progress) {
        copies.startSync(target);
        // Chosen after the copy joined: any write it did not see had set its bit before that.
        List<long[]> ranges = onlyDirty ? bitmap.dirtyRanges(copies.size()) : List.of(new long[] {0, copies.size()});
        return enqueue(() -> new ResyncJob(copies, gate, target, ranges, rate, progress, control));
    }

    /** Compares the copies (and with {@code repair} makes them agree); completes with the regions that differed. */
    CompletableFuture<Long> scrub(boolean repair, ProgressListener progress) {
        return enqueue(() -> new ScrubJob(copies, gate, repair ? ScrubJob.Mode.REPAIR : ScrubJob.Mode.CHECK,
                List.of(new long[] {0, copies.size()}), progress, control));
    }

    /**
     * After an unclean shutdown, with integrity: makes the regions the bitmap had marked trusted
     * again (a crash may have left data and tag of a block disagreeing there); see {@link ScrubJob.Mode#SETTLE}.
     */
    CompletableFuture<Long> settle(List<long[]> ranges) {
        return enqueue(() -> new ScrubJob(copies, gate, ScrubJob.Mode.SETTLE, ranges, ProgressListener.NONE, control));
    }

    List<long[]> dirtyRanges() {
        return bitmap.dirtyRanges(copies.size());
    }

    private synchronized CompletableFuture<Long> enqueue(Supplier<RegionJob> factory) {
        RegionJob job = factory.get();
        jobs.add(job);
        CompletableFuture<Long> mine = queue.handle((x, e) -> null).thenCompose(x -> job.start());
        mine.whenComplete((x, e) -> jobs.remove(job));
        queue = mine;
        return mine;
    }

    /**
     * For shutdown, after {@link #cancelAll}: holds new writes and completes once every write in
     * flight has settled on every copy (with a write quorum, the lagging copies too).
     */
    CompletableFuture<Void> drainWrites() {
        return gate.pause();
    }

    /** Cancels every job queued or running; completes when they have stopped. */
    CompletableFuture<Void> cancelAll() {
        List<RegionJob> all = List.copyOf(jobs);
        all.forEach(RegionJob::cancel);
        CompletableFuture<?> last;
        synchronized (this) {
            last = queue;
        }
        return last.handle((x, e) -> null);
    }
}
