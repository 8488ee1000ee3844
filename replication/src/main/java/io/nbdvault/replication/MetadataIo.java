package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.concurrent.CompletableFuture;

/** Reads and writes a member's two superblock copies at its end. */
final class MetadataIo {
    private MetadataIo() {
    }

    static long offsetA(BlockDevice d) {
        return d.size() - ArrayGeometry.METADATA_SIZE;
    }

    /** The valid copy with the higher event counter. */
    static CompletableFuture<Superblock> read(BlockDevice d) {
        if (d.size() < ArrayGeometry.METADATA_SIZE) {
            return CompletableFuture.failedFuture(new InvalidMetadataException("member is too small to hold metadata"));
        }
        return d.read(offsetA(d), 2 * Superblock.SIZE).thenApply(buf -> {
            try {
                Superblock a = decodeOrNull(buf, 0);
                Superblock b = decodeOrNull(buf, Superblock.SIZE);
                if (a == null && b == null) {
                    throw new java.util.concurrent.CompletionException(
                            new InvalidMetadataException("no valid nbdvault superblock (not a member, or both copies damaged)"));
                }
                return a == null ? b : b == null ? a : (b.events() > a.events() ? b : a);
            } finally {
                buf.release();
            }
        });
    }

    private static Superblock decodeOrNull(ByteBuf buf, int at) {
        byte[] bytes = new byte[Superblock.SIZE];
        buf.getBytes(buf.readerIndex() + at, bytes);
        try {
            return Superblock.decode(bytes);
        } catch (InvalidMetadataException e) {
            return null;
        }
    }

    /** Copy A, then copy B, each durable before the next: a torn write can only damage one. */
    static CompletableFuture<Void> write(BlockDevice d, Superblock sb) {
        byte[] bytes = sb.encode();
        long a = offsetA(d);
        return d.write(a, Unpooled.wrappedBuffer(bytes), WriteFlags.FUA)
                .thenCompose(x -> d.write(a + Superblock.SIZE, Unpooled.wrappedBuffer(bytes), WriteFlags.FUA));
    }

    static CompletableFuture<Void> writeBitmapHeader(BlockDevice d, BitmapHeader header) {
        return d.write(offsetA(d) + BitmapHeader.HEADER_OFFSET, Unpooled.wrappedBuffer(header.encode()), WriteFlags.FUA);
    }

    static CompletableFuture<Void> writeBitmapPage(BlockDevice d, int page, byte[] bytes) {
        return d.write(offsetA(d) + BitmapHeader.PAGES_OFFSET + (long) page * BitmapHeader.PAGE_SIZE,
                Unpooled.wrappedBuffer(bytes), WriteFlags.FUA);
    }

    /** A member's bitmap: its header and set bits; completes with null when it has none (or a damaged one). */
    static CompletableFuture<LoadedBitmap> readBitmap(BlockDevice d) {
        return d.read(offsetA(d) + BitmapHeader.HEADER_OFFSET, BitmapHeader.PAGE_SIZE).thenCompose(buf -> {
            BitmapHeader header;
            try {
                byte[] bytes = new byte[BitmapHeader.PAGE_SIZE];
                buf.getBytes(buf.readerIndex(), bytes);
                header = BitmapHeader.decode(bytes);
            } catch (InvalidMetadataException e) {
                return CompletableFuture.completedFuture(null);
            } finally {
                buf.release();
            }
            int pages = BitmapHeader.pagesFor(header.regions());
            return d.read(offsetA(d) + BitmapHeader.PAGES_OFFSET, pages * BitmapHeader.PAGE_SIZE).thenApply(all -> {
                try {
                    java.util.BitSet bits = new java.util.BitSet();
                    byte[] page = new byte[BitmapHeader.PAGE_SIZE];
                    for (int p = 0; p < pages; p++) {
                        all.getBytes(all.readerIndex() + p * BitmapHeader.PAGE_SIZE, page);
                        WriteIntentBitmap.decodePage(page, p, header.regions(), bits);
                    }
                    return new LoadedBitmap(header, bits);
                } finally {
                    all.release();
                }
            });
        });
    }

    static long leaseOffset(BlockDevice d) {
        return d.size() - Lease.SIZE;
    }

    /** The member's lease; null when it has none (never assembled since leases exist, or given up). */
    static CompletableFuture<Lease> readLease(BlockDevice d) {
        return readOptional(d, leaseOffset(d), Lease.SIZE, Lease::decode);
    }

    /** A metadata block that may be absent: null when it is missing or damaged. */
    private interface Decoder<T> {
        T decode(byte[] bytes) throws InvalidMetadataException;
    }

    private static <T> CompletableFuture<T> readOptional(BlockDevice d, long offset, int size, Decoder<T> decoder) {
        return d.read(offset, size).thenApply(buf -> {
            try {
                byte[] bytes = new byte[size];
                buf.getBytes(buf.readerIndex(), bytes);
                return decoder.decode(bytes);
            } catch (InvalidMetadataException e) {
                return null;
            } finally {
                buf.release();
            }
        });
    }

    static CompletableFuture<Void> writeLease(BlockDevice d, Lease lease) {
        return d.write(leaseOffset(d), Unpooled.wrappedBuffer(lease.encode()), WriteFlags.FUA);
    }

    /** The member's address book; null when it has none or a damaged one. */
    static CompletableFuture<AddressBook> readAddresses(BlockDevice d) {
        return readOptional(d, d.size() - AddressBook.FROM_END, AddressBook.SIZE, AddressBook::decode);
    }

    /** Writes the address book; does nothing when the names do not fit one block. */
    static CompletableFuture<Void> writeAddresses(BlockDevice d, AddressBook book) {
        byte[] bytes = book.encodeOrNull();
        if (bytes == null) {
            return CompletableFuture.completedFuture(null);
        }
        return d.write(d.size() - AddressBook.FROM_END, Unpooled.wrappedBuffer(bytes), WriteFlags.FUA);
    }

    record LoadedBitmap(BitmapHeader header, java.util.BitSet bits) {
    }
}
