package io.nbdvault.core;

import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Per-request deadlines on a hashed wheel: O(1) to arm and cancel without a shared lock, where
 * {@link CompletableFuture#orTimeout} goes through one JDK-wide scheduled executor (a locked delay
 * queue) — measurable at tens of thousands of requests a second. Resolution is 10 ms, plenty for
 * deadlines of seconds.
 *
 * <p>The deadline never completes the future it watches: it completes a new one. So the producer
 * of a late answer still completes its own future, and {@code disposeLate} gets what nobody is
 * waiting for any more (a read buffer to release, a connection to close).
 */
public final class Timeouts {
    private static final HashedWheelTimer WHEEL = new HashedWheelTimer(r -> {
        Thread t = new Thread(r, "nbdvault-timeouts");
        t.setDaemon(true);
        return t;
    }, 10, TimeUnit.MILLISECONDS, 1024);

    private Timeouts() {
    }

    /**
     * A future that completes as {@code f} does if it does so within {@code millis}, else with a
     * {@link TimeoutException} carrying {@code what}; a result of {@code f} that comes after that is
     * handed to {@code disposeLate}. The timer thread completes a timed-out future: continuations
     * attached to the result must not block.
     */
    public static <T> CompletableFuture<T> within(CompletableFuture<T> f, long millis, String what, Consumer<? super T> disposeLate) {
        return within(f, millis, () -> what, disposeLate);
    }

    /**
     * As {@link #within(CompletableFuture, long, String, Consumer)}, with the request's description
     * made only if it times out: a layer that bounds every request need not format its offset and
     * length tens of thousands of times a second for an error that almost never happens.
     */
    public static <T> CompletableFuture<T> within(CompletableFuture<T> f, long millis, Supplier<String> what,
                                                  Consumer<? super T> disposeLate) {
        if (f.isDone()) {
            return f;
        }
        CompletableFuture<T> bounded = new CompletableFuture<>();
        Timeout deadline = WHEEL.newTimeout(t -> bounded.completeExceptionally(
                new TimeoutException(what.get() + ": no answer within " + millis + " ms")), millis, TimeUnit.MILLISECONDS);
        f.whenComplete((result, error) -> {
            deadline.cancel();
            boolean delivered = error == null ? bounded.complete(result) : bounded.completeExceptionally(error);
            if (!delivered && error == null && result != null) {
                disposeLate.accept(result);
            }
        });
        return bounded;
    }

    /** As {@link #within(CompletableFuture, long, String, Consumer)} for results that need no disposal. */
    public static <T> CompletableFuture<T> within(CompletableFuture<T> f, long millis) {
        return within(f, millis, "request", late -> { });
    }
}
