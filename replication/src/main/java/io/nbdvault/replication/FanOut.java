package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Futures;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;

/**
 * The one rule for an update that goes to several copies (data, bitmap pages, flushes): run it on
 * each target, take a copy that failed it out of service, and succeed if at least one copy — or,
 * with {@code requireAll}, every copy — took it.
 */
final class FanOut {
    private FanOut() {
    }

    static CompletableFuture<Void> onEach(List<Integer> targets, IntFunction<CompletableFuture<Void>> op,
                                          BiConsumer<Integer, Throwable> failCopy, boolean requireAll, String what) {
        return onEach(targets, op, failCopy, requireAll, copy -> true, what);
    }

    /**
     * As above, but a copy that took the update counts only if {@code stillServing} holds for it
     * once every copy has answered: for data, a copy failed meanwhile (for another request) or not
     * yet up to date cannot vouch for the update, so an update that only such copies took is not
     * acknowledged (it waits for a copy to come back, see {@link OutageQueue}).
     */
    static CompletableFuture<Void> onEach(List<Integer> targets, IntFunction<CompletableFuture<Void>> op,
                                          BiConsumer<Integer, Throwable> failCopy, boolean requireAll,
                                          java.util.function.IntPredicate stillServing, String what) {
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, what + ": no copy in service"));
        }
        List<CompletableFuture<Boolean>> results = new ArrayList<>(targets.size());
        for (int copy : targets) {
            CompletableFuture<Void> f;
            try {
                f = op.apply(copy);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            results.add(f.handle((ok, error) -> {
                if (error != null) {
                    failCopy.accept(copy, error);
                    return false;
                }
                return true;
            }));
        }
        return Futures.all(results).thenApply(x -> {
            long succeeded = 0;
            for (int i = 0; i < targets.size(); i++) {
                succeeded += results.get(i).join() && stillServing.test(targets.get(i)) ? 1 : 0;
            }
            if (succeeded == 0 || (requireAll && succeeded < results.size())) {
                throw new CompletionException(new BlockDeviceException(Errno.EIO, what + " failed on "
                        + (results.size() - succeeded) + " of " + results.size() + " copies"));
            }
            return null;
        });
    }
}
