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
}
