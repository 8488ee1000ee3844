package io.nbdvault.crypto.luks;

import org.bouncycastle.crypto.Digest;

import java.security.SecureRandom;

/**
 * LUKS's anti-forensic splitter: a key is stretched into {@code stripes} blocks so that losing any
 * one block (by wiping it) makes the key unrecoverable, even from a disk that remaps sectors.
 */
final class AfSplitter {
    private AfSplitter() {
    }

    static byte[] split(byte[] key, int stripes, String hash, SecureRandom random) throws LuksException {
        int size = key.length;
        byte[] out = new byte[size * stripes];
        byte[] d = new byte[size];
        for (int i = 0; i < stripes - 1; i++) {
            byte[] stripe = new byte[size];
            random.nextBytes(stripe);
            System.arraycopy(stripe, 0, out, i * size, size);
            xor(d, stripe, 0);
            d = diffuse(d, hash);
        }
        for (int j = 0; j < size; j++) {
            out[(stripes - 1) * size + j] = (byte) (d[j] ^ key[j]);
        }
        java.util.Arrays.fill(d, (byte) 0);
        return out;
    }

    static byte[] merge(byte[] material, int keySize, int stripes, String hash) throws LuksException {
        byte[] d = new byte[keySize];
        for (int i = 0; i < stripes - 1; i++) {
            xor(d, material, i * keySize);
            d = diffuse(d, hash);
        }
        byte[] key = new byte[keySize];
        for (int j = 0; j < keySize; j++) {
            key[j] = (byte) (d[j] ^ material[(stripes - 1) * keySize + j]);
        }
        java.util.Arrays.fill(d, (byte) 0);
        return key;
    }

    private static void xor(byte[] into, byte[] from, int offset) {
        for (int j = 0; j < into.length; j++) {
            into[j] ^= from[offset + j];
        }
    }

    /** H(0 ‖ d₀) ‖ H(1 ‖ d₁) ‖ …, each block the digest size, the last truncated. */
    private static byte[] diffuse(byte[] d, String hash) throws LuksException {
        Digest digest = Kdf.digest(hash);
        int ds = digest.getDigestSize();
        byte[] out = new byte[d.length];
        byte[] block = new byte[ds];
        for (int i = 0, pos = 0; pos < d.length; i++, pos += ds) {
            int n = Math.min(ds, d.length - pos);
            digest.update((byte) (i >>> 24));
            digest.update((byte) (i >>> 16));
            digest.update((byte) (i >>> 8));
            digest.update((byte) i);
            digest.update(d, pos, n);
            digest.doFinal(block, 0);
            System.arraycopy(block, 0, out, pos, n);
        }
        return out;
    }
}
