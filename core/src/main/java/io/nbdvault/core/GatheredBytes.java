package io.nbdvault.core;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;

/**
 * Bulk access to a range of a buffer that may lie in several pieces (a payload gathered from several
 * socket reads, a striped read), or to one NIO buffer: the NIO views of the pieces are taken once, and copies walk them
 * with a cursor that follows mostly sequential access. Asking the buffer itself for every round
 * would look up the piece each time and, under Netty's leak detector at its advanced levels,
 * record a stack trace on every call (which made a 1 MiB request cost milliseconds there).
 *
 * <p>Not thread-safe (the cursor): one user at a time, as a request's buffer has.
 */
public final class GatheredBytes {
    private final ByteBuffer[] parts;
    private final int length;
    private int part;
    private int partStart;

    /** The {@code length} bytes of {@code buf} from {@code index}; writes go through to {@code buf}'s memory. */
    public GatheredBytes(ByteBuf buf, int index, int length) {
        this.parts = buf.nioBufferCount() == 1 ? new ByteBuffer[] {buf.nioBuffer(index, length)}
                : buf.nioBuffers(index, length);
        this.length = length;
    }

    /** The remaining bytes of {@code buffer}, from its position; writes go through to it. */
    public GatheredBytes(ByteBuffer buffer) {
        this.parts = new ByteBuffer[] {buffer};
        this.length = buffer.remaining();
    }

    public int length() {
        return length;
    }

    /** Whether a piece is a read-only view: such bytes are somebody else's and must not be overwritten. */
    public boolean anyReadOnly() {
        for (ByteBuffer p : parts) {
            if (p.isReadOnly()) {
                return true;
            }
        }
        return false;
    }

    /** Copies bytes {@code [at, at + n)} into {@code to[off, off + n)}. */
    public void get(int at, byte[] to, int off, int n) {
        copy(at, to, off, n, true);
    }

    /** Copies {@code from[off, off + n)} over bytes {@code [at, at + n)}. */
    public void put(int at, byte[] from, int off, int n) {
        copy(at, from, off, n, false);
    }

    /** Copies bytes {@code [at, at + n)} into {@code to}'s indexes {@code [off, off + n)}, whatever its position. */
    public void get(int at, ByteBuffer to, int off, int n) {
        copy(at, to, off, n, true);
    }

    /** Copies {@code from}'s indexes {@code [off, off + n)}, whatever its position, over bytes {@code [at, at + n)}. */
    public void put(int at, ByteBuffer from, int off, int n) {
        copy(at, from, off, n, false);
    }

    /**
     * The piece that holds byte {@code at} (of this range's {@code length}), for callers that work on
     * a piece's memory directly; {@link #offsetInPiece} and {@link #contiguousFrom} say where in it.
     */
    public ByteBuffer pieceAt(int at) {
        java.util.Objects.checkIndex(at, length);
        seek(at);
        return parts[part];
    }

    /** Where byte {@code at} lies in {@link #pieceAt}'s piece, counted from that piece's position. */
    public int offsetInPiece(int at) {
        java.util.Objects.checkIndex(at, length);
        seek(at);
        return at - partStart;
    }

    /** How many bytes from {@code at} on lie in the same piece as {@code at}. */
    public int contiguousFrom(int at) {
        java.util.Objects.checkIndex(at, length);
        seek(at);
        return Math.min(parts[part].remaining() - (at - partStart), length - at);
    }

    /** Moves the cursor to the piece that holds byte {@code at} (which is inside the range). */
    private void seek(int at) {
        if (at < partStart) {
            part = 0;
            partStart = 0;
        }
        while (at - partStart >= parts[part].remaining()) {
            partStart += parts[part].remaining();
            part++;
        }
    }

    /** {@code other} is a byte[] or a ByteBuffer. */
    private void copy(int at, Object other, int off, int n, boolean out) {
        java.util.Objects.checkFromIndexSize(at, n, length);
        if (parts.length == 1) {
            // One piece (the usual case, and XTS on a plain buffer): no cursor to keep.
            transfer(parts[0], at, other, off, n, out);
            return;
        }
        int done = 0;
        while (done < n) {
            seek(at + done);
            ByteBuffer b = parts[part];
            int within = at + done - partStart;
            int len = Math.min(n - done, b.remaining() - within);
            transfer(b, within, other, off + done, len, out);
            done += len;
        }
    }

    /** Copies {@code len} bytes at {@code within} of piece {@code b} out to {@code other}, or in from it. */
    private static void transfer(ByteBuffer b, int within, Object other, int off, int len, boolean out) {
        int index = b.position() + within;
        if (other instanceof byte[] array) {
            if (out) {
                b.get(index, array, off, len);
            } else {
                b.put(index, array, off, len);
            }
        } else if (out) {
            ((ByteBuffer) other).put(off, b, index, len);
        } else {
            b.put(index, (ByteBuffer) other, off, len);
        }
    }
}
