package io.nbdvault.core;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One node of the block stack: an asynchronous, byte-addressed disk.
 *
 * <p>Every layer of nbdvault (NBD export, encryption, striping, mirroring, transports) implements
 * this interface and delegates to the layer below it, like nbdkit filters or qemu block nodes.
 *
 * <p>Contract shared by all implementations:
 * <ul>
 *   <li>Requests are validated once, at the edge (the NBD server or the CLI). Inner layers may assume
 *       {@code 0 <= offset}, {@code offset + length <= size()}, and alignment to {@link #blockSize()}
 *       when their {@link Capabilities} say they require it; {@link Requests} holds the checks.</li>
 *   <li>No method blocks. Failures complete the future exceptionally with a
 *       {@link BlockDeviceException} carrying the errno the NBD protocol reports.</li>
 *   <li>{@link #read} hands the caller a new buffer holding exactly {@code length} readable bytes;
 *       the caller owns it and must release it.</li>
 *   <li>{@link #write} reads {@code data.readableBytes()} bytes without moving its indices. The
 *       caller keeps ownership and may release it once the future completes; a device that needs
 *       the bytes longer retains them. A layer that transforms data (encryption) may overwrite the
 *       readable bytes in place, so a caller that needs its plaintext afterwards passes a copy.</li>
 * </ul>
 */
public interface BlockDevice extends AutoCloseable {

    /** Size in bytes; constant for the lifetime of the device. */
    long size();

    /** Smallest I/O unit the device handles without read-modify-write (512 or 4096 typically). */
    int blockSize();

    /** What this device supports; layers above only forward what the layer below can do. */
    Capabilities capabilities();

    /** Reads {@code length} bytes at {@code offset} into a new buffer owned by the caller. */
    CompletableFuture<ByteBuf> read(long offset, int length);

    /** Writes the readable bytes of {@code data} at {@code offset}; {@link WriteFlags#FUA} makes it durable first. */
    CompletableFuture<Void> write(long offset, ByteBuf data, int flags);

    /** Makes every completed write durable. */
    CompletableFuture<Void> flush();

    /** Discards a range: later reads return unspecified data (use writeZeroes when zeroes are needed). */
    CompletableFuture<Void> trim(long offset, long length, int flags);

    /**
     * Writes zeroes over a range. {@link WriteFlags#NO_HOLE} forbids deallocating it;
     * {@link WriteFlags#FAST_ZERO} asks to fail with {@link Errno#ENOTSUP} rather than be slower than a write.
     */
    CompletableFuture<Void> writeZeroes(long offset, long length, int flags);

    /**
     * Describes allocation from {@code offset}: extents that together cover at least one byte and at
     * most {@code length} bytes, in order, without gaps.
     */
    CompletableFuture<List<Extent>> blockStatus(long offset, long length);

    /** Advises the device to prefetch a range; completing without doing anything is allowed. */
    default CompletableFuture<Void> cache(long offset, long length) {
        return CompletableFuture.completedFuture(null);
    }

    /** Releases resources; outstanding requests complete (or fail) before it returns. */
    @Override
    void close();
}
