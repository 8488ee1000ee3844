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
 * The rule for a metadata update that goes to several copies (bitmap pages and header, the flush
 * before a clearing pass; data goes through {@link QuorumWrite}): run it on
 * each target, take a copy that failed it out of service, and succeed if at least one copy — or,
 * with {@code requireAll}, every copy — took it.
 */
final class FanOut {
    private FanOut() {
    }

    static CompletableFuture<Void> onEach(List<Integer> targets, IntFunction<CompletableFuture<Void>> op,
                                          BiConsumer<Integer, Throwable> failCopy, boolean requireAll, String what) {
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, what + ": no copy in service"));
        }
        List<CompletableFuture<Boolean>> results = new ArrayList<>(targets.size());
        for (int copy : targets) {
            results.add(Futures.call(() -> op.apply(copy)).handle((ok, error) -> {
                if (error != null) {
                    failCopy.accept(copy, error);
                    return false;
                }
                return true;
            }));
        }
        return Futures.all(results).thenApply(x -> {
            long succeeded = results.stream().filter(CompletableFuture::join).count();
            if (succeeded == 0 || (requireAll && succeeded < results.size())) {
                throw new CompletionException(new BlockDeviceException(Errno.EIO, what + " failed on "
                        + (results.size() - succeeded) + " of " + results.size() + " copies"));
            }
            return null;
        });
    }
}
