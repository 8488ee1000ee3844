package io.nbdvault.core;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One latency histogram (microseconds, 3 significant digits, HdrHistogram). Recording is wait-free
 * and allocation-free (HdrHistogram's {@link Recorder}: writers never block, not even each other), so
 * it runs on the data path from any thread — event loops, crypto workers, I/O threads. Reading
 * ({@link #summary}) swaps the recorder's interval histogram into a lifetime total under this
 * object's monitor; only readers (status requests) ever take it.
 */
public final class LatencyMeter {
    private final Recorder recorder = new Recorder(3);
    private final Histogram total = new Histogram(3);
    private Histogram interval;

    /** Records one request that started at {@code startNanos} ({@link System#nanoTime()}) and ended now. */
    public void recordSince(long startNanos) {
        recordMicros((System.nanoTime() - startNanos) / 1000);
    }

    public void recordMicros(long micros) {
        recorder.recordValue(Math.max(0, micros));
    }

    /** Percentiles over this meter's lifetime so far. */
    public synchronized Summary summary() {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        return new Summary(total.getTotalCount(), total.getValueAtPercentile(50), total.getValueAtPercentile(99),
                total.getValueAtPercentile(99.9), total.getMaxValue(), total.getMean());
    }

    /** Lifetime figures, microseconds. */
    public record Summary(long count, long p50Micros, long p99Micros, long p999Micros, long maxMicros, double meanMicros) {
    }
}
