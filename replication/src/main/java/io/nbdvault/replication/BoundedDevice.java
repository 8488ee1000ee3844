package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Extent;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The first {@code size} bytes of a member: its data area, keeping the metadata at its end out of reach. */
final class BoundedDevice implements BlockDevice {
    private final BlockDevice inner;
    private final long size;

    BoundedDevice(BlockDevice inner, long size) {
        if (size > inner.size()) {
            throw new IllegalArgumentException("member " + inner + " has " + inner.size() + " bytes, needs " + size);
        }
        this.inner = inner;
        this.size = size;
    }

    @Override
    public long size() {
        return size;
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
        return inner.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return inner.write(offset, data, flags);
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
    public CompletableFuture<Void> cache(long offset, long length) {
        return inner.cache(offset, length);
    }

    @Override
    public void close() {
        inner.close();
    }

    @Override
    public String toString() {
        return inner.toString();
    }
}
