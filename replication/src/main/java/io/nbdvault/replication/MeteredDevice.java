package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Extent;
import io.nbdvault.core.ForwardingDevice;
import io.netty.buffer.ByteBuf;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

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
    private final ConcurrentHistogram latency = new ConcurrentHistogram(3);
    private final AtomicInteger inFlight = new AtomicInteger();

    MeteredDevice(BlockDevice below) {
        super(below);
    }

    int inFlight() {
        return inFlight.get();
    }

    /** Latency percentiles in microseconds: {p50, p99, p99.9, count}. */
    long[] latencyMicros() {
        Histogram h = latency.copy();
        return new long[] {h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9),
                h.getTotalCount()};
    }

    private <T> CompletableFuture<T> metered(Supplier<CompletableFuture<T>> op) {
        inFlight.incrementAndGet();
        long start = System.nanoTime();
        CompletableFuture<T> f;
        try {
            f = op.get();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, e) -> {
            inFlight.decrementAndGet();
            latency.recordValue(Math.max(0, (System.nanoTime() - start) / 1000));
        });
        return f;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return metered(() -> below.read(offset, length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return metered(() -> below.write(offset, data, flags));
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
