package io.nbdvault.replication;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Whether every mirror group has a copy that can serve, and a signal when a copy comes back, for
 * requests that wait out an outage ({@link OutageQueue}). Lock-free: copies report their returns
 * from whichever thread restores them.
 */
final class Availability {
    private final AtomicReference<CompletableFuture<Void>> change = new AtomicReference<>(new CompletableFuture<>());
    private volatile CopySet[] groups = new CopySet[0];
    private volatile long outageSinceNanos;

    void watch(CopySet[] all) {
        this.groups = all;
    }

    /** Every group has a readable copy. */
    boolean available() {
        for (CopySet g : groups) {
            if (g.readable().isEmpty()) {
                if (outageSinceNanos == 0) {
                    outageSinceNanos = System.nanoTime();
                }
                return false;
            }
        }
        outageSinceNanos = 0;
        return true;
    }

    /** Milliseconds since some group lost its last readable copy (0 when none has). */
    long outageMillis() {
        long since = outageSinceNanos;
        return since == 0 || available() ? 0 : (System.nanoTime() - since) / 1_000_000;
    }

    /** Completes at the next change (a copy returning); may complete without anything being available. */
    CompletableFuture<Void> nextChange() {
        return change.get();
    }

    /** A copy came back into service: wakes everything waiting. */
    void changed() {
        change.getAndSet(new CompletableFuture<>()).complete(null);
    }
}
