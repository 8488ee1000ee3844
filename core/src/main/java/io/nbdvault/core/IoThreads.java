package io.nbdvault.core;

/**
 * How many event-loop threads nbdvault's Netty group runs (shared by the NBD server's connections
 * and the replicas' connections): one per core, where Netty's default is two. On a small machine
 * the extra loops cost more in wake-ups and context switches than they add: on 2 cores, fio against
 * three nbdkit replicas measured 1.3-1.5x the 4 KiB random IOPS at 0.6-0.7x the server's CPU per
 * request with one loop per core instead of two (when the server and the replicas still had a group
 * each), and 1 MiB requests within noise (their encryption runs on the crypto workers either way).
 * {@code -Dnbdvault.ioThreads=N} (for example in NBDVAULT_JAVA_OPTS) sets another count.
 */
public final class IoThreads {
    private IoThreads() {
    }

    /** Threads per event-loop group: {@code nbdvault.ioThreads}, else the number of cores. */
    public static int perGroup() {
        int n = Integer.getInteger("nbdvault.ioThreads", 0);
        return n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }
}
