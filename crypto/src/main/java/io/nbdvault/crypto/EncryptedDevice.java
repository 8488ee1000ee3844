package io.nbdvault.crypto;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.GatheredBytes;
import io.nbdvault.core.Requests;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.crypto.xts.AesXts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;


import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The encryption layer: plaintext above, AES-XTS ciphertext below, dm-crypt compatible.
 * Logical byte 0 is byte {@code payloadOffset} of the device below; sector n (of {@code sectorSize}
 * bytes) is encrypted with tweak {@code firstTweak + n * sectorSize / 512}, because dm-crypt (and so
 * LUKS2) counts IVs in 512-byte units whatever the sector size.
 *
 * <p>Whole-sector writes are encrypted once, in place, and the same buffer goes down the stack.
 * Partial-sector writes read, decrypt, patch, re-encrypt and write the sectors they touch, holding
 * a lock on those edge sectors so that two partial writes into one sector cannot lose each other.
 *
 * <p>Threads: requests of {@link CryptoWorkers#OFFLOAD_THRESHOLD} bytes or more are encrypted and
 * decrypted on {@link CryptoWorkers} (never on the event loop that submitted them or completed the
 * read below); smaller ones inline on the calling or completing thread. The device below is called
 * from whichever of these threads finished the encryption.
 */
public final class EncryptedDevice implements BlockDevice {
    private static final int ZERO_CHUNK = 1 << 20;

    private final BlockDevice below;
    private final long payloadOffset;
    private final long size;
    private final AesXts cipher;
    private final int sectorSize;
    private final long firstTweak;
    private final long tweakStep;
    private final SectorLocks locks = new SectorLocks();
    private final ByteBufAllocator allocator = ByteBufAllocator.DEFAULT;
    private final Executor workers = CryptoWorkers.shared();

    public EncryptedDevice(BlockDevice below, long payloadOffset, long payloadSize, AesXts cipher, int sectorSize,
                           long firstTweak) {
        if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size must be a power of two from 512 to 4096: " + sectorSize);
        }
        if (payloadOffset < 0 || payloadSize < 0 || payloadOffset + payloadSize > below.size()
                || payloadOffset % 512 != 0 || payloadSize % sectorSize != 0) {
            throw new IllegalArgumentException("payload " + payloadOffset + "+" + payloadSize
                    + " does not fit a device of " + below.size() + " bytes in whole sectors");
        }
        this.below = below;
        this.payloadOffset = payloadOffset;
        this.size = payloadSize;
        this.cipher = cipher;
        this.sectorSize = sectorSize;
        this.firstTweak = firstTweak;
        this.tweakStep = sectorSize / 512;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return sectorSize;
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = below.capabilities();
        // Zeroes must be written as encrypted zeroes, so they are never "fast"; block status is
        // answered here (ciphertext allocation says nothing about plaintext zeroes).
        return new Capabilities(c.readOnly(), c.flush(), c.fua(), c.trim(), true, false, true, c.cache(), c.multiConn());
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        long start = alignDown(offset);
        long end = alignUp(offset + length);
        return readSectors(start, (int) (end - start)).thenApply(plain -> {
            if (start == offset && end == offset + length) {
                return plain;
            }
            ByteBuf wanted = plain.retainedSlice(plain.readerIndex() + (int) (offset - start), length);
            plain.release();
            return wanted;
        });
    }

    /** Reads and decrypts whole sectors; the buffer returned belongs to the caller. */
    private CompletableFuture<ByteBuf> readSectors(long start, int length) {
        return below.read(payloadOffset + start, length).thenCompose(cipherText -> onWorker(length, cipherText, () -> {
            ByteBuf plain = ownWritable(cipherText);
            try {
                cipher.decrypt(sectors(plain, length), sectorSize, tweakOf(start), tweakStep);
                return plain;
            } catch (RuntimeException e) {
                plain.release();
                throw e;
            }
        }));
    }

    /**
     * Runs {@code work} inline when small, else on a crypto worker. {@code owned} is the buffer the
     * work takes over; it is released here if the work can never run (workers shut down).
     */
    private <T> CompletableFuture<T> onWorker(int length, ByteBuf owned, java.util.function.Supplier<T> work) {
        if (length < CryptoWorkers.OFFLOAD_THRESHOLD) {
            try {
                return CompletableFuture.completedFuture(work.get());
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        CompletableFuture<T> out = new CompletableFuture<>();
        try {
            workers.execute(() -> {
                try {
                    out.complete(work.get());
                } catch (RuntimeException e) {
                    out.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            if (owned != null) {
                owned.release();
            }
            out.completeExceptionally(e);
        }
        return out;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        int length = data.readableBytes();
        if (offset % sectorSize == 0 && length % sectorSize == 0) {
            // Our own reference while the work is queued: the caller may give up on its future meanwhile.
            ByteBuf target = writableInPlace(data) ? data.retain() : copy(data);
            return onWorker(length, null, () -> {
                cipher.encrypt(sectors(target, length), sectorSize, tweakOf(offset), tweakStep);
                return target;
            }).thenCompose(encrypted -> below.write(payloadOffset + offset, encrypted, flags))
                    .whenComplete((ok, error) -> target.release());
        }
        return readModifyWrite(offset, data, flags);
    }

    private CompletableFuture<Void> readModifyWrite(long offset, ByteBuf data, int flags) {
        int length = data.readableBytes();
        long start = alignDown(offset);
        long end = alignUp(offset + length);
        ByteBuf patch = data.retainedDuplicate();
        return locks.withSectors(start / sectorSize, (end - 1) / sectorSize, () ->
                readSectors(start, (int) (end - start)).thenCompose(plain -> onWorker(plain.readableBytes(), plain, () -> {
                    try {
                        plain.setBytes(plain.readerIndex() + (int) (offset - start), patch, patch.readerIndex(), length);
                        cipher.encrypt(sectors(plain, plain.readableBytes()), sectorSize, tweakOf(start),
                                tweakStep);
                        return plain;
                    } catch (RuntimeException e) {
                        plain.release();
                        throw e;
                    }
                }).thenCompose(encrypted -> below.write(payloadOffset + start, encrypted, flags)
                        .whenComplete((ok, error) -> encrypted.release())))).whenComplete((ok, error) -> patch.release());
    }

    @Override
    public CompletableFuture<Void> flush() {
        return below.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        // Only whole sectors are discarded below; partial edges keep their data (trim is advisory).
        long start = alignUp(offset);
        long end = alignDown(offset + length);
        if (end <= start || !below.capabilities().trim()) {
            return WriteFlags.has(flags, WriteFlags.FUA) ? below.flush() : Requests.done();
        }
        return below.trim(payloadOffset + start, end - start, flags);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        if (WriteFlags.has(flags, WriteFlags.FAST_ZERO)) {
            return Requests.failed(Errno.ENOTSUP, "zeroes on an encrypted volume are written, never fast");
        }
        // Ciphertext of zeroes is not zeroes: write encrypted zero sectors, a bounded chunk at a time.
        return zeroChunk(offset, offset + length, flags & WriteFlags.FUA);
    }

    private CompletableFuture<Void> zeroChunk(long from, long end, int flags) {
        if (from >= end) {
            return Requests.done();
        }
        int n = (int) Math.min(ZERO_CHUNK - (from % ZERO_CHUNK), end - from);
        ByteBuf zeroes = allocator.directBuffer(n, n).writeZero(n);
        return write(from, zeroes, flags).whenComplete((ok, error) -> zeroes.release())
                .thenCompose(ok -> zeroChunk(from + n, end, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        return CompletableFuture.completedFuture(List.of(Extent.data(length)));
    }

    @Override
    public CompletableFuture<Void> cache(long offset, long length) {
        return below.cache(payloadOffset + offset, length);
    }

    /** Closes the cipher (zeroing its keys); the device below belongs to whoever opened it. */
    @Override
    public void close() {
        cipher.close();
    }

    private long tweakOf(long logicalOffset) {
        return firstTweak + (logicalOffset / sectorSize) * tweakStep;
    }

    private long alignDown(long pos) {
        return pos - pos % sectorSize;
    }

    private long alignUp(long pos) {
        long rest = pos % sectorSize;
        return rest == 0 ? pos : pos + sectorSize - rest;
    }

    /**
     * {@code buf} itself when its bytes may be decrypted where they lie (composites from striping
     * included), else a copy; either way the caller owns what is returned and {@code buf} is
     * taken over.
     */
    private ByteBuf ownWritable(ByteBuf buf) {
        if (writableInPlace(buf)) {
            return buf;
        }
        ByteBuf copy = copy(buf);
        buf.release();
        return copy;
    }

    /**
     * Whether {@code buf}'s bytes may be overwritten where they lie. A buffer handed down or up the
     * stack belongs to whoever holds it, but a read-only view (or a piece of one) is somebody else's
     * memory and must be copied first.
     */
    private static boolean writableInPlace(ByteBuf buf) {
        return !buf.isReadOnly() && (buf.nioBufferCount() == 1
                || !new GatheredBytes(buf, buf.readerIndex(), buf.readableBytes()).anyReadOnly());
    }

    /**
     * The first {@code length} readable bytes of {@code buf} as XTS takes them, contiguous or not: a
     * payload gathered from several socket reads, or a striped read assembled from several replies,
     * is encrypted or decrypted where it lies instead of first being copied into one piece.
     */
    private static GatheredBytes sectors(ByteBuf buf, int length) {
        return new GatheredBytes(buf, buf.readerIndex(), length);
    }

    private ByteBuf copy(ByteBuf data) {
        ByteBuf copy = allocator.directBuffer(data.readableBytes());
        copy.writeBytes(data, data.readerIndex(), data.readableBytes());
        return copy;
    }

}
