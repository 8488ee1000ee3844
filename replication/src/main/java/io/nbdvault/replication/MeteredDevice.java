package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Extent;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.Futures;
import io.nbdvault.core.LatencyMeter;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Counts one copy's requests in flight (so reads go to the least busy copy) and records their
 * latency (for `nbdvault status`). Lock-free; runs its bookkeeping on whichever thread completes
 * the request below.
 */
final class MeteredDevice extends ForwardingDevice {
    /** Wait-free to record (HdrHistogram's Recorder), shared with the per-layer figures of `status`. */
    private final LatencyMeter latency = new LatencyMeter();
    private final AtomicInteger inFlight = new AtomicInteger();
    /**
     * Recent read latency, microseconds: an exponentially weighted moving average (weight 1/8 per
     * read) of the median of the last five reads. Reads only, since it picks where to read (writes
     * and flushes go to every copy alike); the median, because outliers — the process's first, cold
     * read, a GC pause or a descheduled thread on a loaded machine — used to make a healthy copy look
     * slow for hundreds of reads (a median of three still flipped on two outliers in CI), while a copy
     * that is really slow moves it from its third slow read. Updated without a lock: a lost update
     * among racing completions only delays the estimate a little, which is all a read scheduler needs.
     */
    private volatile double recentMicros = 100;
    /** The last reads' latencies, newest first (racy like {@link #recentMicros}). */
    private final long[] lastReads = {100, 100, 100, 100};

    MeteredDevice(BlockDevice below) {
        super(below);
    }

    /** The integrity layer under this copy, or null when the array has none. */
    TaggedDevice tagged() {
        return below instanceof TaggedDevice t ? t : null;
    }

    int inFlight() {
        return inFlight.get();
    }

    double recentMicros() {
        return recentMicros;
    }

    /**
     * How costly a new read here looks now: recent latency times the queue it would join. Latency
     * below half a millisecond counts as half a millisecond: between local copies such differences
     * are noise (a cold first read, a GC pause), while a distant replica is tens of milliseconds away.
     */
    double cost() {
        return Math.max(500, recentMicros) * (inFlight.get() + 1);
    }

    /** Latency in microseconds: {p50, p99, p99.9, count, mean}. */
    long[] latencyMicros() {
        LatencyMeter.Summary s = latency.summary();
        return new long[] {s.p50Micros(), s.p99Micros(), s.p999Micros(), s.count(), Math.round(s.meanMicros())};
    }

    private <T> CompletableFuture<T> metered(Supplier<CompletableFuture<T>> op) {
        return metered(op, false);
    }

    private <T> CompletableFuture<T> metered(Supplier<CompletableFuture<T>> op, boolean read) {
        inFlight.incrementAndGet();
        long start = System.nanoTime();
        // The future returned is the bookkeeping's own, so a caller sees the answer only once this
        // copy's queue and estimate count it: a continuation that picks the next copy to read from
        // (it runs before a listener attached earlier) no longer sees the answered request in flight.
        return Futures.call(op).whenComplete((r, e) -> {
            inFlight.decrementAndGet();
            long micros = Math.max(0, (System.nanoTime() - start) / 1000);
            latency.recordMicros(micros);
            if (read) {
                estimate(micros);
            }
        });
    }

    private void estimate(long micros) {
        long[] last = lastReads;
        long[] five = {micros, last[0], last[1], last[2], last[3]};
        System.arraycopy(last, 0, last, 1, last.length - 1);
        last[0] = micros;
        java.util.Arrays.sort(five);
        recentMicros += (five[2] - recentMicros) / 8;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return metered(() -> below.read(offset, length), true);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return metered(() -> below.write(offset, data, flags));
    }

    /** A write with its integrity tags computed once for all copies (see {@link TaggedDevice#tagsFor}). */
    CompletableFuture<Void> write(long offset, ByteBuf data, int flags, byte[] tags) {
        TaggedDevice t = tagged();
        return t == null || tags == null ? write(offset, data, flags) : metered(() -> t.write(offset, data, flags, tags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return metered(below::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return metered(() -> below.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return metered(() -> below.writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return metered(() -> below.blockStatus(offset, length));
    }
}
