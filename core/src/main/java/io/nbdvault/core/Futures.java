package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Combinators every layer that splits a request needs, written once with their buffer ownership. */
public final class Futures {
    private Futures() {
    }

    /**
     * The reads of consecutive parts of a range, joined into one buffer in order without copying.
     * If any part fails, the parts that succeeded (now or later) are released and the first error
     * is reported; otherwise the caller owns the composite, which owns the parts.
     */
    public static CompletableFuture<ByteBuf> concat(List<CompletableFuture<ByteBuf>> parts) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((ok, error) -> {
            if (error != null) {
                parts.forEach(p -> p.thenAccept(ByteBuf::release));
                throw new CompletionException(BlockDeviceException.unwrap(error));
            }
            CompositeByteBuf whole = ByteBufAllocator.DEFAULT.compositeBuffer(parts.size());
            parts.forEach(p -> whole.addComponent(true, p.join()));
            return whole;
        });
    }

    /**
     * Calls {@code op}, turning an exception it throws into a failed future: a layer that calls
     * the one below needs one failure path, not two.
     */
    public static <T> CompletableFuture<T> call(java.util.function.Supplier<CompletableFuture<T>> op) {
        try {
            return op.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Completes when every future has; fails with the first error once all have finished. */
    public static CompletableFuture<Void> all(List<? extends CompletableFuture<?>> futures) {
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new));
    }
}
