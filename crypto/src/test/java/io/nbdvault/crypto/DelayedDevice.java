package io.nbdvault.crypto;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Extent;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Test device: forwards to another device but completes after a short random delay on another thread. */
final class DelayedDevice implements BlockDevice {
    private final BlockDevice inner;

    DelayedDevice(BlockDevice inner) {
        this.inner = inner;
    }

    private static Executor later() {
        return CompletableFuture.delayedExecutor(ThreadLocalRandom.current().nextInt(3), TimeUnit.MILLISECONDS);
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
        return CompletableFuture.supplyAsync(() -> inner.read(offset, length).join(), later());
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        ByteBuf held = data.retainedDuplicate();
        return CompletableFuture.runAsync(() -> inner.write(offset, held, flags).join(), later())
                .whenComplete((ok, error) -> held.release());
    }

    @Override
    public CompletableFuture<Void> flush() {
        return inner.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return inner.trim(offset, length, flags);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return inner.writeZeroes(offset, length, flags);
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return inner.blockStatus(offset, length);
    }

    @Override
    public void close() {
        inner.close();
    }
}
