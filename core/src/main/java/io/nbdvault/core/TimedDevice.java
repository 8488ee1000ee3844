package io.nbdvault.core;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Records how long each request takes from this point down (until the future below completes), per
 * request type, in {@link LayerLatencies}: put above a layer, it shows that layer's latency
 * including everything beneath; the difference to the meter below it is the layer's own share.
 * Adds one {@code nanoTime} and a wait-free histogram update per request.
 */
public final class TimedDevice extends ForwardingDevice {
    private final LatencyMeter reads;
    private final LatencyMeter writes;
    private final LatencyMeter flushes;
    private final LatencyMeter trims;
    private final LatencyMeter zeroes;
    private final LatencyMeter status;

    public TimedDevice(BlockDevice below, LayerLatencies latencies, String layer) {
        super(below);
        this.reads = latencies.meter(layer, "read");
        this.writes = latencies.meter(layer, "write");
        this.flushes = latencies.meter(layer, "flush");
        this.trims = latencies.meter(layer, "trim");
        this.zeroes = latencies.meter(layer, "write_zeroes");
        this.status = latencies.meter(layer, "block_status");
    }

    private static <T> CompletableFuture<T> timed(LatencyMeter meter, long start, CompletableFuture<T> f) {
        f.whenComplete((r, e) -> meter.recordSince(start));
        return f;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        long start = System.nanoTime();
        return timed(reads, start, below.read(offset, length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        long start = System.nanoTime();
        return timed(writes, start, below.write(offset, data, flags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        long start = System.nanoTime();
        return timed(flushes, start, below.flush());
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        long start = System.nanoTime();
        return timed(trims, start, below.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        long start = System.nanoTime();
        return timed(zeroes, start, below.writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        long start = System.nanoTime();
        return timed(status, start, below.blockStatus(offset, length));
    }
}
