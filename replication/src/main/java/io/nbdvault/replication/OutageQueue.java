package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.Futures;
import io.nbdvault.core.Timeouts;
import io.netty.buffer.ByteBuf;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Rides out the loss of every copy of a group, as open-iscsi's replacement_timeout and
 * dm-multipath's queue_if_no_path do: a request that fails while some group has no copy left
 * waits — up to the queue timeout from its arrival — for a copy to come back (the array probes
 * and takes members back by itself), then runs again. Only after the timeout does the client see
 * the error. A request that fails while every group has a copy (an unreadable sector) fails at
 * once. Retrying is safe: reads, writes of the same bytes, trims and zeroes are idempotent.
 *
 * <p>Memory: what waits here is bounded by the NBD server's in-flight budget. Threads: retries
 * run on whichever thread signals a copy's return (the control thread or an I/O thread) or on the
 * deadline timer; nothing blocks.
 */
final class OutageQueue extends ForwardingDevice {
    private final Availability availability;
    private final long timeoutNanos;
    private final AtomicInteger waiting = new AtomicInteger();

    OutageQueue(BlockDevice below, Availability availability, Duration queueTimeout) {
        super(below);
        this.availability = availability;
        this.timeoutNanos = queueTimeout.toNanos();
    }

    /** Requests waiting for a copy to come back, for `status`. */
    int waiting() {
        return waiting.get();
    }

    private <T> CompletableFuture<T> riding(Supplier<CompletableFuture<T>> op) {
        return attempt(op, System.nanoTime() + timeoutNanos);
    }

    private <T> CompletableFuture<T> attempt(Supplier<CompletableFuture<T>> op, long deadline) {
        // Taken first: a copy that returns while this attempt runs completes it, so no return is missed.
        CompletableFuture<Void> epoch = availability.nextChange();
        return Futures.call(op).handle((result, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(result);
            }
            long left = deadline - System.nanoTime();
            if (timeoutNanos == 0 || (availability.available() && !epoch.isDone())) {
                return CompletableFuture.<T>failedFuture(BlockDeviceException.unwrap(error));
            }
            if (left <= 0) {
                return CompletableFuture.<T>failedFuture(new BlockDeviceException(Errno.EIO,
                        "no copy came back within the queue timeout: " + BlockDeviceException.unwrap(error).getMessage()));
            }
            waiting.incrementAndGet();
            CompletableFuture<Void> back = Timeouts.within(epoch, Math.max(1, left / 1_000_000));
            return back.handle((x, timedOut) -> null).thenCompose(x -> {
                waiting.decrementAndGet();
                return attempt(op, deadline);
            });
        }).thenCompose(f -> f);
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return riding(() -> below.read(offset, length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return riding(() -> below.write(offset, data, flags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return riding(below::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return riding(() -> below.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return riding(() -> below.writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return riding(() -> below.blockStatus(offset, length));
    }
}
