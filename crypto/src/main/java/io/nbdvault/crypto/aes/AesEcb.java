package io.nbdvault.crypto.aes;

/**
 * AES over whole 16-byte blocks under one key, in one direction, many blocks per call: the
 * primitive AES-XTS and the integrity MAC are built on (every block independent, so a wide
 * implementation runs many at once). Which implementation runs is the JVM's {@link AesEngine}.
 *
 * <p>Not thread-safe: one thread at a time (callers keep one per worker or per thread).
 * {@link #close()} drops the key schedule; the instance is unusable afterwards.
 */
public interface AesEcb extends AutoCloseable {
    /** The AES block, in bytes. */
    int BLOCK = 16;

    /**
     * {@code out[outAt, outAt + length) = AES(in[inAt, inAt + length))}; {@code length} a multiple of
     * 16 (else IllegalArgumentException), both ranges inside their arrays (else
     * IndexOutOfBoundsException), not after {@link #close()} (else IllegalStateException).
     */
    void apply(byte[] in, int inAt, int length, byte[] out, int outAt);

    @Override
    void close();

    /** Encryption under {@code key} (16, 24 or 32 bytes) with this JVM's engine. */
    static AesEcb encrypting(byte[] key) {
        return AesEngine.current().ecb(key, true);
    }

    /** Decryption under {@code key} (16, 24 or 32 bytes) with this JVM's engine. */
    static AesEcb decrypting(byte[] key) {
        return AesEngine.current().ecb(key, false);
    }
}
