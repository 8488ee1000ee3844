package io.nbdvault.core;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A layer that passes every request to the device below unchanged; subclasses override only the
 * operations they alter, like an nbdkit filter that calls {@code next} for everything else.
 */
public abstract class ForwardingDevice implements BlockDevice {
    protected final BlockDevice below;

    protected ForwardingDevice(BlockDevice below) {
        this.below = below;
    }

    @Override
    public long size() {
        return below.size();
    }

    @Override
    public int blockSize() {
        return below.blockSize();
    }

    @Override
    public Capabilities capabilities() {
        return below.capabilities();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return below.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return below.write(offset, data, flags);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return below.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return below.trim(offset, length, flags);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return below.writeZeroes(offset, length, flags);
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return below.blockStatus(offset, length);
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return below.cache(offset, length);
    }

    @Override
    public void close() {
        below.close();
    }

    @Override
    public String toString() {
        return below.toString();
    }
}
