package io.nbdvault.crypto;

import io.nbdvault.crypto.xts.SectorBytes;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;

/**
 * The readable bytes of a Netty buffer as XTS sees them, contiguous or not: a request's payload
 * gathered from several socket reads, or a striped read assembled from several replies, is
 * encrypted or decrypted where it lies, instead of first being copied into one piece.
 */
final class ByteBufSectors implements SectorBytes {
    private final ByteBuf buf;
    private final int base;
    private final int length;

    ByteBufSectors(ByteBuf buf, int length) {
        this.buf = buf;
        this.base = buf.readerIndex();
        this.length = length;
    }

    /**
     * Whether {@code buf}'s bytes may be overwritten where they lie. A buffer handed down or up the
     * stack belongs to whoever holds it, but a read-only view (or a part of one) is somebody
     * else's memory and must be copied first.
     */
    static boolean writableInPlace(ByteBuf buf) {
        if (buf.isReadOnly()) {
            return false;
        }
        if (buf.nioBufferCount() == 1) {
            return true;
        }
        for (ByteBuffer part : buf.nioBuffers()) {
            if (part.isReadOnly()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public void read(int at, byte[] to, int n) {
        buf.getBytes(base + at, to, 0, n);
    }

    @Override
    public void write(int at, byte[] from, int n) {
        buf.setBytes(base + at, from, 0, n);
    }
}
