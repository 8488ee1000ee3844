package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.ForwardingDevice;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** A test device over another one that can be made to fail or hang, reads and updates separately. */
final class FaultyDevice extends ForwardingDevice {
    /** LATE answers for real, but only after {@link #LATE_MILLIS}: past any deadline the tests set. */
    enum Mode { OK, FAIL, HANG, LATE, SLOW, HELD }

    /** HELD requests run once the test completes this (a replica far away, made to wait on purpose). */
    volatile CompletableFuture<Void> release = new CompletableFuture<>();

    /** SLOW answers every request after this long: a distant but healthy replica. */
    static final long SLOW_MILLIS = 20;

    static final long LATE_MILLIS = 600;

    volatile Mode reads = Mode.OK;
    volatile Mode writes = Mode.OK;
    final AtomicInteger readCount = new AtomicInteger();
    final AtomicInteger writeCount = new AtomicInteger();

    FaultyDevice(BlockDevice below) {
        super(below);
    }

    private <T> CompletableFuture<T> apply(Mode mode, Supplier<CompletableFuture<T>> op) {
        return switch (mode) {
            case OK -> op.get();
            case FAIL -> CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "injected failure"));
            case HANG -> new CompletableFuture<>();
            case HELD -> release.thenCompose(x -> op.get());
            case SLOW -> CompletableFuture.supplyAsync(() -> null,
                    CompletableFuture.delayedExecutor(SLOW_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS))
                    .thenCompose(x -> op.get());
            case LATE -> CompletableFuture.supplyAsync(() -> null,
                    CompletableFuture.delayedExecutor(LATE_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS))
                    .thenCompose(x -> op.get());
        };
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        readCount.incrementAndGet();
        return apply(reads, () -> super.read(offset, length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        writeCount.incrementAndGet();
        return apply(writes, () -> super.write(offset, data, flags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return apply(writes, super::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return apply(writes, () -> super.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return apply(writes, () -> super.writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return apply(reads, () -> super.blockStatus(offset, length));
    }
}
