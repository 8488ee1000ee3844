package io.nbdvault.crypto;

import io.nbdvault.core.GatheredBytes;
import io.nbdvault.crypto.xts.SectorBytes;
import io.netty.buffer.ByteBuf;

/**
 * The readable bytes of a Netty buffer as XTS sees them, contiguous or not: a request's payload
 * gathered from several socket reads, or a striped read assembled from several replies, is
 * encrypted or decrypted where it lies, instead of first being copied into one piece.
 */
final class ByteBufSectors implements SectorBytes {
    private final GatheredBytes bytes;

    ByteBufSectors(ByteBuf buf, int length) {
        this.bytes = new GatheredBytes(buf, buf.readerIndex(), length);
    }

    /**
     * Whether {@code buf}'s bytes may be overwritten where they lie. A buffer handed down or up the
     * stack belongs to whoever holds it, but a read-only view (or a part of one) is somebody
     * else's memory and must be copied first.
     */
    static boolean writableInPlace(ByteBuf buf) {
        return !buf.isReadOnly() && !new GatheredBytes(buf, buf.readerIndex(), buf.readableBytes()).anyReadOnly();
    }

    @Override
    public int length() {
        return bytes.length();
    }

    @Override
    public void read(int at, byte[] to, int n) {
        bytes.get(at, to, 0, n);
    }

    @Override
    public void write(int at, byte[] from, int n) {
        bytes.put(at, from, 0, n);
    }
}
