package io.nbdvault.nbd.server;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of requests in flight across all of one server's connections (READ lengths and WRITE
 * payloads), bounded so that memory stays bounded whatever clients do: a connection that cannot
 * get budget for its next request stops there (and stops reading its socket) until some request,
 * anywhere, finishes. One request is always admitted when nothing is in flight, so a request
 * larger than the budget is slow, not stuck. Lock-free; connections wait on their own event loops.
 */
final class InFlightBudget {
    static final long DEFAULT_BYTES = 512L << 20;

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();

    InFlightBudget(long limit) {
        this.limit = limit;
    }

    boolean tryAcquire(long bytes) {
        while (true) {
            long now = used.get();
            if (now > 0 && now + bytes > limit) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    /** Takes bytes whatever the budget says (a connection's small reserve, see {@link TransmissionHandler}). */
    void force(long bytes) {
        used.addAndGet(bytes);
    }

    /** Returns bytes, then wakes every connection that was waiting (each retries on its own loop). */
    void release(long bytes) {
        used.addAndGet(-bytes);
        Runnable r;
        while ((r = waiting.poll()) != null) {
            try {
                r.run();
            } catch (RuntimeException closed) {
                // That connection's event loop is gone (it closed): nothing to wake, and the
                // connection returning budget here must not fail for it.
            }
        }
    }

    /** Asks to be woken once {@code bytes} may fit; a wake-up may be spurious. */
    void await(long bytes, Runnable wake) {
        waiting.add(wake);
        // Released between the failed try and this registration: nobody else would wake us.
        long now = used.get();
        if (now == 0 || now + bytes <= limit) {
            if (waiting.remove(wake)) {
                wake.run();
            }
        }
    }

    long used() {
        return used.get();
    }
}
