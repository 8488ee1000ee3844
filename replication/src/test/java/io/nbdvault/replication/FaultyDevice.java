package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** A test device over another one that can be made to fail or hang, per operation kind. */
final class FaultyDevice implements BlockDevice {
    enum Mode { OK, FAIL, HANG }

    private final BlockDevice inner;
    volatile Mode reads = Mode.OK;
    volatile Mode writes = Mode.OK;
    final AtomicInteger readCount = new AtomicInteger();
    final AtomicInteger writeCount = new AtomicInteger();

    FaultyDevice(BlockDevice inner) {
        this.inner = inner;
    }

    private <T> CompletableFuture<T> apply(Mode mode, Supplier<CompletableFuture<T>> op) {
        return switch (mode) {
            case OK -> op.get();
            case FAIL -> CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "injected failure"));
            case HANG -> new CompletableFuture<>();
        };
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public int blockSize() {
        return inner.blockSize();
    }

    @Override
    public Capabilities capabilities() {
        return inner.capabilities();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        readCount.incrementAndGet();
        return apply(reads, () -> inner.read(offset, length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        writeCount.incrementAndGet();
        return apply(writes, () -> inner.write(offset, data, flags));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return apply(writes, inner::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return apply(writes, () -> inner.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return apply(writes, () -> inner.writeZeroes(offset, length, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return apply(reads, () -> inner.blockStatus(offset, length));
    }

    @Override
    public void close() {
        inner.close();
    }
}
