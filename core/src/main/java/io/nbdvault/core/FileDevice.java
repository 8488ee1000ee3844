package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A file or block device, read and written with positional I/O on a small pool of I/O threads
 * (the JDK has no non-blocking file I/O; the pool keeps the callers' event loops free).
 * Trim and block status use {@link FileSpace} when it can; otherwise trim writes zeroes.
 */
public final class FileDevice implements BlockDevice {
    private static final int ZERO_CHUNK = 1 << 20;
    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean readOnly;
    private final FileSpace space;
    private final ExecutorService io;
    private final ByteBufAllocator allocator = ByteBufAllocator.DEFAULT;
    /** This process's hold on the file lock, released on close (see {@link FileLocks}). */
    private Object lock;

    private FileDevice(Path path, FileChannel channel, long size, boolean readOnly, FileSpace space, int threads) {
        this.path = path;
        this.channel = channel;
        this.size = size;
        this.readOnly = readOnly;
        this.space = space;
        int poolId = POOL_IDS.incrementAndGet();
        AtomicInteger threadIds = new AtomicInteger();
        this.io = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "file-io-" + poolId + "-" + threadIds.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Opens an existing file; {@code size} of -1 means the file's current length. */
    /**
     * Opens a file or block device, locked against other processes ({@link FileLocks}: exclusive
     * for writing, shared for reading) until the device is closed.
     */
    public static FileDevice open(Path path, boolean readOnly, long size, FileSpace space) throws IOException {
        Object lock = FileLocks.acquire(path, readOnly);
        try {
            FileChannel channel = readOnly
                    ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            long actual = size >= 0 ? size : channel.size();
            FileDevice d = new FileDevice(path, channel, actual, readOnly, space, defaultThreads());
            d.lock = lock;
            return d;
        } catch (IOException | RuntimeException e) {
            FileLocks.release(lock);
            throw e;
        }
    }

    public static FileDevice open(Path path, boolean readOnly) throws IOException {
        return open(path, readOnly, -1, FileSpace.NONE);
    }

    /** Creates (or extends) a sparse file of {@code size} bytes and opens it read-write. */
    public static FileDevice create(Path path, long size, FileSpace space) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            if (channel.size() < size) {
                // Writing the last byte makes the file sparse without touching what lies before it.
                channel.write(ByteBuffer.allocate(1), size - 1);
            }
        }
        return open(path, false, size, space);
    }

    private static int defaultThreads() {
        return Math.max(4, Runtime.getRuntime().availableProcessors() * 2);
    }

    public Path path() {
        return path;
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
        return Capabilities.ALL.withReadOnly(readOnly).withFastZero(false);
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuf out = allocator.directBuffer(length, length);
            try {
                ByteBuffer nio = out.nioBuffer(0, length);
                while (nio.hasRemaining()) {
                    int n = channel.read(nio, offset + nio.position());
                    if (n < 0) {
                        // Past the end of a file shorter than the device: a sparse tail reads as zeroes.
                        while (nio.hasRemaining()) {
                            nio.put((byte) 0);
                        }
                    }
                }
                out.writerIndex(length);
                return out;
            } catch (IOException | RuntimeException e) {
                out.release();
                throw wrap("read", offset, length, e);
            }
        }, io);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        if (readOnly) {
            return Requests.failed(Errno.EPERM, "device is read-only: " + path);
        }
        ByteBuf retained = data.retainedDuplicate();
        return CompletableFuture.runAsync(() -> {
            try {
                ByteBuffer[] nio = retained.nioBuffers();
                long pos = offset;
                for (ByteBuffer b : nio) {
                    while (b.hasRemaining()) {
                        pos += channel.write(b, pos);
                    }
                }
                if (WriteFlags.has(flags, WriteFlags.FUA)) {
                    channel.force(false);
                }
            } catch (IOException | RuntimeException e) {
                throw wrap("write", offset, retained.readableBytes(), e);
            } finally {
                retained.release();
            }
        }, io);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.runAsync(() -> {
            try {
                channel.force(false);
            } catch (IOException e) {
                throw wrap("flush", 0, 0, e);
            }
        }, io);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        if (readOnly) {
            return Requests.failed(Errno.EPERM, "device is read-only: " + path);
        }
        return CompletableFuture.runAsync(() -> {
            try {
                if (!space.discard(offset, length)) {
                    writeZeroesBlocking(offset, length);
                }
                if (WriteFlags.has(flags, WriteFlags.FUA)) {
                    channel.force(false);
                }
            } catch (IOException e) {
                throw wrap("trim", offset, length, e);
            }
        }, io);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        if (readOnly) {
            return Requests.failed(Errno.EPERM, "device is read-only: " + path);
        }
        if (WriteFlags.has(flags, WriteFlags.FAST_ZERO) && WriteFlags.has(flags, WriteFlags.NO_HOLE)) {
            return Requests.failed(Errno.ENOTSUP, "fast zero without a hole is not supported on " + path);
        }
        return CompletableFuture.runAsync(() -> {
            try {
                boolean punched = !WriteFlags.has(flags, WriteFlags.NO_HOLE) && space.punchHole(offset, length);
                if (!punched) {
                    if (WriteFlags.has(flags, WriteFlags.FAST_ZERO)) {
                        throw new BlockDeviceException(Errno.ENOTSUP, "fast zero is not supported on " + path);
                    }
                    writeZeroesBlocking(offset, length);
                }
                if (WriteFlags.has(flags, WriteFlags.FUA)) {
                    channel.force(false);
                }
            } catch (IOException e) {
                throw wrap("write zeroes", offset, length, e);
            }
        }, io);
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return extents(offset, offset + length);
            } catch (IOException e) {
                throw wrap("block status", offset, length, e);
            }
        }, io);
    }

    private List<Extent> extents(long start, long end) throws IOException {
        List<Extent> result = new ArrayList<>();
        long pos = start;
        while (pos < end) {
            long data = space.nextData(pos, end);
            if (data < 0) {
                result.add(Extent.data(end - pos));
                return result;
            }
            if (data > pos) {
                result.add(Extent.hole(Math.min(data, end) - pos));
                pos = Math.min(data, end);
                continue;
            }
            long hole = space.nextHole(pos, end);
            long stop = hole < 0 ? end : Math.min(Math.max(hole, pos + 1), end);
            result.add(Extent.data(stop - pos));
            pos = stop;
        }
        return result;
    }

    private void writeZeroesBlocking(long offset, long length) throws IOException {
        ByteBuffer zeroes = ByteBuffer.allocateDirect((int) Math.min(ZERO_CHUNK, Math.max(length, 1)));
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            zeroes.clear().limit((int) Math.min(zeroes.capacity(), end - pos));
            while (zeroes.hasRemaining()) {
                pos += channel.write(zeroes, pos);
            }
        }
    }

    private java.util.concurrent.CompletionException wrap(String op, long offset, long length, Exception e) {
        BlockDeviceException bde = e instanceof BlockDeviceException b ? b
                : new BlockDeviceException(e instanceof java.nio.channels.NonWritableChannelException
                        ? Errno.EPERM : Errno.EIO,
                        op + " " + offset + "+" + length + " on " + path + " failed: " + e.getMessage(), e);
        return new java.util.concurrent.CompletionException(bde);
    }

    @Override
    public void close() {
        io.shutdown();
        try {
            if (!io.awaitTermination(30, TimeUnit.SECONDS)) {
                io.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing is left to fail: every request has finished or been abandoned above.
        }
        space.close();
        Object held = lock;
        lock = null;
        if (held != null) {
            FileLocks.release(held);
        }
    }
}
