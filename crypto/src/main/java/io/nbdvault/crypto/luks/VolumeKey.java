package io.nbdvault.crypto.luks;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The master key of a volume, kept off-heap and zeroed on close. Where the native shim is wired
 * in, the caller also locks it in memory (see the CLI's key hardening).
 */
final class VolumeKey implements AutoCloseable {
    private final ByteBuffer key;

    VolumeKey(byte[] bytes) {
        key = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        Arrays.fill(bytes, (byte) 0);
    }

    int length() {
        return key.capacity();
    }

    /** A temporary copy for an API that wants an array; the caller zeroes it. */
    byte[] copy() {
        byte[] out = new byte[key.capacity()];
        key.duplicate().get(out);
        return out;
    }

    ByteBuffer buffer() {
        return key;
    }

    @Override
    public void close() {
        for (int i = 0; i < key.capacity(); i++) {
            key.put(i, (byte) 0);
        }
    }
}
