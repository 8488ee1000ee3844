package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.Requests;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Stands in for a member that was not given at assembly: every request fails, so it stays failed. */
final class AbsentDevice implements BlockDevice {
    private final long size;

    AbsentDevice(long size) {
        this.size = size;
    }

    private static <T> CompletableFuture<T> absent() {
        return Requests.failed(Errno.EIO, "member is missing");
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return 512;
    }

    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return absent();
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return absent();
    }

    @Override
    public CompletableFuture<Void> flush() {
        return absent();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return absent();
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return absent();
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return absent();
    }

    @Override
    public void close() {
    }
}
