package io.nbdvault.replication;

import java.time.Duration;

/**
 * How a replicated array runs: the deadline of each request to a member, the resync rate (bytes a
 * second, 0 unlimited), whether to force an ambiguous assembly, the bitmap's region size (at
 * create) and the idle time before a region is cleared, how often failed members are probed, and
 * how to open members by name (null: never reopen), and how long requests wait for a copy to come
 * back when a group has none left (zero: they fail at once).
 */
public record ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force, long bitmapRegionSize,
                           Duration bitmapIdle, Duration probeInterval, MemberOpener opener, Duration queueTimeout,
                           int writeQuorum, long maxLagBytes) {
    /**
     * How far a copy may fall behind a write quorum before writes wait for it: 64 MiB is about
     * half a second of a 1 GbE link — enough to absorb a distant replica's latency at full
     * speed, small enough that a copy far behind is noticed (and the bytes held for it bounded).
     * In time, a copy lags at most the request timeout: a request it has not answered by then
     * fails it, and it is caught up later from the write-intent bitmap.
     */
    public static final long DEFAULT_MAX_LAG = 64L << 20;

    public ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force, long bitmapRegionSize,
                        Duration bitmapIdle, Duration probeInterval, MemberOpener opener, Duration queueTimeout) {
        this(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, opener, queueTimeout,
                0, DEFAULT_MAX_LAG);
    }

    /** Like open-iscsi's replacement_timeout and the kernel nbd driver's default request timeout. */
    public static final Duration DEFAULT_QUEUE_TIMEOUT = Duration.ofSeconds(30);

    public ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force, long bitmapRegionSize,
                        Duration bitmapIdle, Duration probeInterval, MemberOpener opener) {
        this(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, opener,
                DEFAULT_QUEUE_TIMEOUT);
    }

    public ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force) {
        this(requestTimeout, resyncBytesPerSecond, force, BitmapHeader.DEFAULT_REGION_SIZE, Duration.ofSeconds(5),
                Duration.ofSeconds(2), null);
    }

    public static ArrayOptions defaults() {
        return new ArrayOptions(Duration.ofSeconds(10), 0, false);
    }

    public ArrayOptions withOpener(MemberOpener value) {
        return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, value,
                queueTimeout, writeQuorum, maxLagBytes);
    }

    public ArrayOptions withBitmap(long regionSize, Duration idle) {
        return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, regionSize, idle, probeInterval, opener,
                queueTimeout, writeQuorum, maxLagBytes);
    }

    public ArrayOptions withQueueTimeout(Duration value) {
        return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, opener,
                value, writeQuorum, maxLagBytes);
    }

    public ArrayOptions withBitmapIdle(Duration idle) {
        return withBitmap(bitmapRegionSize, idle);
    }

    public ArrayOptions withProbeInterval(Duration value) {
        return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, value, opener,
                queueTimeout, writeQuorum, maxLagBytes);
    }

    /** Writes acknowledged by {@code quorum} copies (0: every copy), the others at most {@code maxLag} bytes behind. */
    public ArrayOptions withWriteQuorum(int quorum, long maxLag) {
        return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, opener,
                queueTimeout, quorum, maxLag);
    }
}
