package io.nbdvault.crypto.xts;

import java.nio.ByteBuffer;

/**
 * Bytes that XTS transforms in place, a round at a time: it copies a round's bytes out into its
 * scratch arrays and the result back. So the bytes need not be contiguous: a buffer gathered from
 * several network reads is encrypted where it lies, without first being copied into one piece.
 */
public interface SectorBytes {
    /** How many bytes there are, from index 0. */
    int length();

    /** Copies bytes {@code [at, at + n)} into {@code to[0, n)}. */
    void read(int at, byte[] to, int n);

    /** Copies {@code from[0, n)} over bytes {@code [at, at + n)}. */
    void write(int at, byte[] from, int n);

    /** The remaining bytes of {@code buffer}, from its position. */
    static SectorBytes of(ByteBuffer buffer) {
        int base = buffer.position();
        int length = buffer.remaining();
        return new SectorBytes() {
            @Override
            public int length() {
                return length;
            }

            @Override
            public void read(int at, byte[] to, int n) {
                buffer.get(base + at, to, 0, n);
            }

            @Override
            public void write(int at, byte[] from, int n) {
                buffer.put(base + at, from, 0, n);
            }
        };
    }
}
