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

    private void copy(int at, byte[] array, int off, int n, boolean out) {
        java.util.Objects.checkFromIndexSize(at, n, length);
        if (parts.length == 1) {
            // One piece (the usual case, and XTS on a plain buffer): no cursor to keep.
            transfer(parts[0], at, array, off, n, out);
            return;
        }
        if (at < partStart) {
            part = 0;
            partStart = 0;
        }
        int done = 0;
        while (done < n) {
            ByteBuffer b = parts[part];
            int size = b.remaining();
            int within = at + done - partStart;
            if (within >= size) {
                partStart += size;
                part++;
                continue;
            }
            int len = Math.min(n - done, size - within);
            transfer(b, within, array, off + done, len, out);
            done += len;
        }
    }

    /** Copies {@code len} bytes at {@code within} of piece {@code b} out to {@code array}, or in from it. */
    private static void transfer(ByteBuffer b, int within, byte[] array, int off, int len, boolean out) {
        if (out) {
            b.get(b.position() + within, array, off, len);
        } else {
            b.put(b.position() + within, array, off, len);
        }
    }
}
