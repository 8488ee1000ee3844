package io.nbdvault.core;

import io.netty.buffer.ByteBuf;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Gives every request to the device below a deadline: past it the caller gets a
 * {@link java.util.concurrent.TimeoutException} (on the timer thread), and whatever the device
 * answers afterwards is disposed of here — a late read's buffer is released, since nobody will.
 * The device below is never told; its own requests keep their own lifetime.
 */
public final class DeadlineDevice extends ForwardingDevice {
    private static final Consumer<Object> NOTHING = late -> { };
    private final long millis;
    private final String name;

    public DeadlineDevice(BlockDevice below, Duration deadline) {
        this(below, deadline, null);
    }

    /** {@code name} (a member's URI, say) is what errors and logs call the device; by default its own description. */
    public DeadlineDevice(BlockDevice below, Duration deadline, String name) {
        super(below);
        this.millis = deadline.toMillis();
        this.name = name;
    }

    /** {@code what} describes the request, for the error if it times out (and only then is it called). */
    private <T> CompletableFuture<T> bounded(CompletableFuture<T> f, Supplier<String> what, Consumer<? super T> disposeLate) {
        return Timeouts.within(f, millis, () -> what.get() + " on " + this, disposeLate);
    }

    @Override
    public String toString() {
        return name != null ? name : below.toString();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return bounded(Futures.call(() -> below.read(offset, length)), () -> "read " + offset + "+" + length, ByteBuf::release);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        // The device below retains what it needs beyond the caller's future (the BlockDevice contract).
        int length = data.readableBytes(); // now: by the time a deadline passes, the caller may have released data
        return bounded(Futures.call(() -> below.write(offset, data, flags)), () -> "write " + offset + "+" + length, NOTHING);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return bounded(Futures.call(below::flush), () -> "flush", NOTHING);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return bounded(Futures.call(() -> below.trim(offset, length, flags)), () -> "trim " + offset + "+" + length, NOTHING);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return bounded(Futures.call(() -> below.writeZeroes(offset, length, flags)), () -> "write zeroes " + offset + "+" + length, NOTHING);
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return bounded(Futures.call(() -> below.blockStatus(offset, length)), () -> "block status", NOTHING);
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return bounded(Futures.call(() -> below.cache(offset, length)), () -> "cache", NOTHING);
    }
}
