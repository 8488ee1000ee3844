package io.nbdvault.core;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One latency histogram (microseconds, 3 significant digits, HdrHistogram). Recording is wait-free
 * and allocation-free (HdrHistogram's {@link Recorder}: writers never block, not even each other), so
 * it runs on the data path from any thread — event loops, crypto workers, I/O threads. The recorder
 * is striped by thread: a request's layers are recorded by several threads at once, and one shared
 * recorder's counters (a few atomic adds per value) bounced between the cores — about 6 % of the
 * JVM's samples in a JFR profile of the lab. Reading ({@link #summary}) swaps each stripe's interval
 * histogram into a lifetime total under this object's monitor; only readers (status requests) ever
 * take it.
 */
public final class LatencyMeter {
    private static final int STRIPES = 8;

    private final Recorder[] recorders = new Recorder[STRIPES];
    private final Histogram total = new Histogram(3);
    /** Per stripe, the histogram its recorder handed out last, handed back to be reused. */
    private final Histogram[] intervals = new Histogram[STRIPES];

    public LatencyMeter() {
        for (int i = 0; i < STRIPES; i++) {
            recorders[i] = new Recorder(3);
        }
    }

    /** Records one request that started at {@code startNanos} ({@link System#nanoTime()}) and ended now. */
    public void recordSince(long startNanos) {
        recordMicros((System.nanoTime() - startNanos) / 1000);
    }

    @SuppressWarnings("deprecation") // Thread.getId: threadId() is JDK 19+, and the build targets 17
    public void recordMicros(long micros) {
        // Thread ids are handed out in sequence, so the few threads of the data path get distinct stripes.
        recorders[(int) Thread.currentThread().getId() & (STRIPES - 1)].recordValue(Math.max(0, micros));
    }

    /** Percentiles over this meter's lifetime so far. */
    public synchronized Summary summary() {
        for (int i = 0; i < STRIPES; i++) {
            intervals[i] = recorders[i].getIntervalHistogram(intervals[i]);
            total.add(intervals[i]);
        }
        return new Summary(total.getTotalCount(), total.getValueAtPercentile(50), total.getValueAtPercentile(99),
                total.getValueAtPercentile(99.9), total.getMaxValue(), total.getMean());
    }

    /** Lifetime figures, microseconds. */
    public record Summary(long count, long p50Micros, long p99Micros, long p999Micros, long maxMicros, double meanMicros) {
    }
}
