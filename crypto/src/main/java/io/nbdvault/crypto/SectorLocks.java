package io.nbdvault.crypto;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Asynchronous locks on sector numbers, for read-modify-write. A holder registers on every sector
 * it needs in one atomic step (so two holders can never wait on each other), waits for the previous
 * holders of those sectors, runs, and then releases whoever registered after it.
 */
final class SectorLocks {
    private final Map<Long, CompletableFuture<Void>> lastHolder = new HashMap<>();

    /** Runs {@code work} once no earlier holder of sector {@code first} or {@code last} is active. */
    <T> CompletableFuture<T> withSectors(long first, long last, Supplier<CompletableFuture<T>> work) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> waitFor;
        synchronized (this) {
            CompletableFuture<Void> a = lastHolder.put(first, mine);
            CompletableFuture<Void> b = last == first ? null : lastHolder.put(last, mine);
            waitFor = CompletableFuture.allOf(a == null ? CompletableFuture.completedFuture(null) : a,
                    b == null ? CompletableFuture.completedFuture(null) : b);
        }
        return waitFor.thenCompose(ignored -> work.get()).whenComplete((result, error) -> {
            synchronized (this) {
                lastHolder.remove(first, mine);
                lastHolder.remove(last, mine);
            }
            mine.complete(null);
        });
    }
}
