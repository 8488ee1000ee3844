package io.nbdvault.crypto;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that encrypt and decrypt large requests, so that an event loop never spends
 * milliseconds on AES-XTS (32 MiB takes ~5–10 ms on one core) while other connections wait. One
 * daemon thread per core: the work is pure CPU. The queue is unbounded because what reaches it is
 * already bounded by the NBD server's in-flight limits per connection.
 */
final class CryptoWorkers {
    /** Requests smaller than this are cheaper to encrypt where they are than to hand over (~1 µs per 4 KiB). */
    static final int OFFLOAD_THRESHOLD = 64 * 1024;

    private static final ExecutorService SHARED = Executors.newFixedThreadPool(
            Runtime.getRuntime().availableProcessors(), new java.util.concurrent.ThreadFactory() {
                private final AtomicInteger next = new AtomicInteger();

                @Override
                public Thread newThread(Runnable r) {
                    Thread t = new Thread(r, "nbdvault-crypto-" + next.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }
            });

    private CryptoWorkers() {
    }

    static ExecutorService shared() {
        return SHARED;
    }
}
