package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A sparse RAM disk, like nbdkit's memory plugin: pages are allocated on first write and dropped
 * again by trim, so {@code memory:1T} costs nothing until written. Requests complete on the
 * caller's thread; nothing here blocks.
 */
public final class MemoryDevice implements BlockDevice {
    static final int PAGE_SHIFT = 16;
    static final int PAGE_SIZE = 1 << PAGE_SHIFT;

    private final long size;
    private final AtomicReferenceArray<byte[]> pages;
    private final ByteBufAllocator allocator;

    public MemoryDevice(long size) {
        this(size, ByteBufAllocator.DEFAULT);
    }

    public MemoryDevice(long size, ByteBufAllocator allocator) {
        if (size < 0) {
            throw new IllegalArgumentException("size must not be negative: " + size);
        }
        long pageCount = (size + PAGE_SIZE - 1) >>> PAGE_SHIFT;
        if (pageCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("memory device too large: " + size);
        }
        this.size = size;
        this.pages = new AtomicReferenceArray<>((int) pageCount);
        this.allocator = allocator;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return 1;
    }

    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        ByteBuf out = allocator.directBuffer(length, length);
        long pos = offset;
        int left = length;
        while (left > 0) {
            int inPage = (int) (pos & (PAGE_SIZE - 1));
            int n = Math.min(left, PAGE_SIZE - inPage);
            byte[] page = pages.get(pageIndex(pos));
            if (page == null) {
                out.writeZero(n);
            } else {
                out.writeBytes(page, inPage, n);
            }
            pos += n;
            left -= n;
        }
        return CompletableFuture.completedFuture(out);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        int index = data.readerIndex();
        long pos = offset;
        int left = data.readableBytes();
        while (left > 0) {
            int inPage = (int) (pos & (PAGE_SIZE - 1));
            int n = Math.min(left, PAGE_SIZE - inPage);
            data.getBytes(index, pageFor(pos), inPage, n);
            index += n;
            pos += n;
            left -= n;
        }
        return Requests.done();
    }

    @Override
    public CompletableFuture<Void> flush() {
        return Requests.done();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int inPage = (int) (pos & (PAGE_SIZE - 1));
            int n = (int) Math.min(end - pos, PAGE_SIZE - inPage);
            int index = pageIndex(pos);
            if (n == PAGE_SIZE) {
                pages.set(index, null);
            } else {
                byte[] page = pages.get(index);
                if (page != null) {
                    java.util.Arrays.fill(page, inPage, inPage + n, (byte) 0);
                }
            }
            pos += n;
        }
        return Requests.done();
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        if (!WriteFlags.has(flags, WriteFlags.NO_HOLE)) {
            return trim(offset, length, flags);
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int inPage = (int) (pos & (PAGE_SIZE - 1));
            int n = (int) Math.min(end - pos, PAGE_SIZE - inPage);
            java.util.Arrays.fill(pageFor(pos), inPage, inPage + n, (byte) 0);
            pos += n;
        }
        return Requests.done();
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        List<Extent> extents = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int inPage = (int) (pos & (PAGE_SIZE - 1));
            long n = Math.min(end - pos, PAGE_SIZE - inPage);
            boolean hole = pages.get(pageIndex(pos)) == null;
            Extent last = extents.isEmpty() ? null : extents.get(extents.size() - 1);
            int flags = hole ? Extent.HOLE | Extent.ZERO : 0;
            if (last != null && last.flags() == flags) {
                extents.set(extents.size() - 1, new Extent(last.length() + n, flags));
            } else {
                extents.add(new Extent(n, flags));
            }
            pos += n;
        }
        return CompletableFuture.completedFuture(extents);
    }

    @Override
    public void close() {
        for (int i = 0; i < pages.length(); i++) {
            pages.set(i, null);
        }
    }

    private static int pageIndex(long pos) {
        return (int) (pos >>> PAGE_SHIFT);
    }

    private byte[] pageFor(long pos) {
        int index = pageIndex(pos);
        byte[] page = pages.get(index);
        if (page == null) {
            byte[] fresh = new byte[PAGE_SIZE];
            page = pages.compareAndExchange(index, null, fresh);
            if (page == null) {
                page = fresh;
            }
        }
        return page;
    }
}
