package io.nbdvault.replication;

import java.util.concurrent.CompletableFuture;

/**
 * Lets a resync step run with no client write in flight: writes enter and exit the gate; a pause
 * waits for the writes in flight to drain and holds new ones until resumed.
 */
final class WriteGate {
    private int inFlight;
    private CompletableFuture<Void> paused;
    private CompletableFuture<Void> drained;

    synchronized CompletableFuture<Void> enter() {
        if (paused != null) {
            CompletableFuture<Void> wait = paused;
            return wait.thenCompose(x -> enter());
        }
        inFlight++;
        return CompletableFuture.completedFuture(null);
    }

    synchronized void exit() {
        inFlight--;
        if (inFlight == 0 && drained != null) {
            drained.complete(null);
        }
    }

    /** Completes once no write is in flight; new writes wait until {@link #resume()}. */
    synchronized CompletableFuture<Void> pause() {
        if (paused != null) {
            throw new IllegalStateException("writes are already paused");
        }
        paused = new CompletableFuture<>();
        drained = new CompletableFuture<>();
        if (inFlight == 0) {
            drained.complete(null);
        }
        return drained;
    }

    void resume() {
        CompletableFuture<Void> release;
        synchronized (this) {
            release = paused;
            paused = null;
            drained = null;
        }
        if (release != null) {
            release.complete(null);
        }
    }
}
