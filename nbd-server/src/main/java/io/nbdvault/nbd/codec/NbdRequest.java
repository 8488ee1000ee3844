package io.nbdvault.nbd.codec;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;

/**
 * A transmission-phase request. {@code payload} holds a WRITE's data (null for other commands and for a
 * WRITE whose payload was too large to accept: the decoder skipped it and set {@code oversized}).
 */
public final class NbdRequest extends AbstractReferenceCounted {
    private final int flags;
    private final int type;
    private final long cookie;
    private final long offset;
    private final long length;
    private final ByteBuf payload;
    private final boolean oversized;
    /** When the request, with its payload, had been read off the connection ({@link System#nanoTime()}). */
    private final long receivedNanos = System.nanoTime();

    public NbdRequest(int flags, int type, long cookie, long offset, long length, ByteBuf payload, boolean oversized) {
        this.flags = flags;
        this.type = type;
        this.cookie = cookie;
        this.offset = offset;
        this.length = length;
        this.payload = payload;
        this.oversized = oversized;
    }

    public int flags() {
        return flags;
    }

    public int type() {
        return type;
    }

    public long cookie() {
        return cookie;
    }

    public long offset() {
        return offset;
    }

    /** Unsigned 32-bit length from the wire, widened. */
    public long length() {
        return length;
    }

    public ByteBuf payload() {
        return payload;
    }

    public long receivedNanos() {
        return receivedNanos;
    }

    public boolean oversized() {
        return oversized;
    }

    @Override
    protected void deallocate() {
        if (payload != null) {
            payload.release();
        }
    }

    @Override
    public ReferenceCounted touch(Object hint) {
        if (payload != null) {
            payload.touch(hint);
        }
        return this;
    }

    @Override
    public String toString() {
        return "NbdRequest[type=" + type + ", flags=" + flags + ", cookie=" + cookie + ", offset=" + offset
                + ", length=" + length + "]";
    }
}
