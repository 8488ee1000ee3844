package io.nbdvault.crypto.xts;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * XTS-AES (IEEE 1619) with 256- or 512-bit keys, tweaks as dm-crypt's plain64 (sector number,
 * little-endian). The JDK has no XTS mode; this builds it on large AES/ECB calls, which run on the
 * AES-NI/VAES intrinsics: for a batch of sectors the tweak masks are computed in bulk, the data is
 * XORed with them, encrypted in one ECB call, and XORed again. Nothing is allocated per request.
 *
 * <p>Thread-safe: each call borrows a worker (ciphers and scratch space) from a pool. The JCE keeps
 * its own copy of the expanded key inside each Cipher; {@link #close()} zeroes what this class holds
 * and drops the ciphers, which is as far as the JCE lets key material be erased.
 */
public final class AesXts implements AutoCloseable {
    /** Bytes handled per ECB call: large enough to amortise the call, small enough to stay in L2. */
    static final int BATCH = 64 * 1024;
    private static final int BLOCK = 16;

    private final byte[] dataKey;
    private final byte[] tweakKey;
    private final ConcurrentLinkedQueue<Worker> workers = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    public AesXts(byte[] key) {
        this(key, false);
    }

    /** Equal halves are only accepted for the published test vectors, which use them. */
    AesXts(byte[] key, boolean allowEqualHalves) {
        if (key.length != 32 && key.length != 64) {
            throw new IllegalArgumentException("XTS-AES needs a 256- or 512-bit key, got " + key.length * 8 + " bits");
        }
        int half = key.length / 2;
        this.dataKey = Arrays.copyOfRange(key, 0, half);
        this.tweakKey = Arrays.copyOfRange(key, half, key.length);
        if (!allowEqualHalves && Arrays.equals(dataKey, tweakKey)) {
            // IEEE 1619-2018 forbids equal halves (it defeats the mode); cryptsetup refuses them too.
            throw new IllegalArgumentException("XTS key halves must differ");
        }
    }

    /** Key size in bits (256 for XTS-AES-128, 512 for XTS-AES-256). */
    public int keyBits() {
        return (dataKey.length + tweakKey.length) * 8;
    }

    public void encrypt(ByteBuffer data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(data, sectorSize, firstTweak, tweakStep, true);
    }

    public void decrypt(ByteBuffer data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(data, sectorSize, firstTweak, tweakStep, false);
    }

    /** Encrypts one data unit of any length of at least 16 bytes, with ciphertext stealing. */
    public void encryptUnit(ByteBuffer data, long tweak) {
        unit(data, tweak, true);
    }

    public void decryptUnit(ByteBuffer data, long tweak) {
        unit(data, tweak, false);
    }

    private void crypt(ByteBuffer data, int sectorSize, long firstTweak, long tweakStep, boolean encrypt) {
        if (sectorSize < BLOCK || sectorSize % BLOCK != 0 || sectorSize > BATCH) {
            throw new IllegalArgumentException("sector size must be a multiple of 16 up to " + BATCH + ": " + sectorSize);
        }
        int length = data.remaining();
        if (length % sectorSize != 0) {
            throw new IllegalArgumentException(length + " bytes is not a whole number of " + sectorSize + "-byte sectors");
        }
        Worker w = borrow();
        try {
            int batch = BATCH - BATCH % sectorSize;
            int pos = data.position();
            // Little-endian long access to the caller's buffer (direct or heap): the XOR passes read
            // and write it in place, so the data is copied neither in nor out.
            ByteBuffer le = data.order() == ByteOrder.LITTLE_ENDIAN ? data : data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            long tweak = firstTweak;
            for (int done = 0; done < length; ) {
                int n = Math.min(batch, length - done);
                w.sectorTweaks(n / sectorSize, tweak, tweakStep);
                w.maskIn(le, pos + done, n, sectorSize);
                w.cipher(n, encrypt);
                w.maskOut(le, pos + done, n);
                tweak += (long) (n / sectorSize) * tweakStep;
                done += n;
            }
        } finally {
            giveBack(w);
        }
    }

    private void unit(ByteBuffer data, long tweak, boolean encrypt) {
        int length = data.remaining();
        if (length < BLOCK) {
            throw new IllegalArgumentException("an XTS data unit needs at least 16 bytes, got " + length);
        }
        if (length > BATCH) {
            throw new IllegalArgumentException("data unit longer than " + BATCH + " bytes");
        }
        if (length % BLOCK == 0) {
            crypt(data, length, tweak, 1, encrypt);
            return;
        }
        Worker w = borrow();
        try {
            int pos = data.position();
            data.get(pos, w.buffer, 0, length);
            w.stealing(length, tweak, encrypt);
            data.put(pos, w.buffer, 0, length);
        } finally {
            giveBack(w);
        }
    }

    private Worker borrow() {
        if (closed) {
            throw new IllegalStateException("cipher is closed");
        }
        Worker w = workers.poll();
        return w != null ? w : new Worker(dataKey, tweakKey);
    }

    private void giveBack(Worker w) {
        if (closed) {
            w.wipe();
        } else {
            workers.offer(w);
        }
    }

    @Override
    public void close() {
        closed = true;
        Arrays.fill(dataKey, (byte) 0);
        Arrays.fill(tweakKey, (byte) 0);
        Worker w;
        while ((w = workers.poll()) != null) {
            w.wipe();
        }
    }

    /** Ciphers and scratch space for one thread at a time. */
    private static final class Worker {
        private final Cipher encryptData;
        private final Cipher decryptData;
        private final Cipher encryptTweak;
        final byte[] buffer = new byte[BATCH];
        private final byte[] mask = new byte[BATCH];
        private final byte[] tweaks = new byte[BATCH];
        private final byte[] out = new byte[BATCH];

        Worker(byte[] dataKey, byte[] tweakKey) {
            try {
                encryptData = ecb(Cipher.ENCRYPT_MODE, dataKey);
                decryptData = ecb(Cipher.DECRYPT_MODE, dataKey);
                encryptTweak = ecb(Cipher.ENCRYPT_MODE, tweakKey);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/ECB is not available in this JDK", e);
            }
        }

        private static Cipher ecb(int mode, byte[] key) throws GeneralSecurityException {
            Cipher c = Cipher.getInstance("AES/ECB/NoPadding", "SunJCE");
            c.init(mode, new SecretKeySpec(key, "AES"));
            return c;
        }

        /** Fills {@code mask[0, n)} with T·α^j for every block j of every sector in the batch. */
        void masks(int n, int sectorSize, long firstTweak, long tweakStep) {
            int sectors = n / sectorSize;
            sectorTweaks(sectors, firstTweak, tweakStep);
            for (int s = 0; s < sectors; s++) {
                long lo = Gf128.getLongLE(tweaks, s * BLOCK);
                long hi = Gf128.getLongLE(tweaks, s * BLOCK + 8);
                int base = s * sectorSize;
                for (int off = 0; off < sectorSize; off += BLOCK) {
                    Gf128.putLongLE(mask, base + off, lo);
                    Gf128.putLongLE(mask, base + off + 8, hi);
                    long carry = hi >> 63;
                    hi = (hi << 1) | (lo >>> 63);
                    lo = (lo << 1) ^ (carry & 0x87);
                }
            }
        }

        /** One ECB call encrypts every sector's tweak: T = AES_k2(sector number, little-endian). */
        void sectorTweaks(int sectors, long firstTweak, long tweakStep) {
            for (int s = 0; s < sectors; s++) {
                Gf128.putLongLE(tweaks, s * BLOCK, firstTweak + s * tweakStep);
                Gf128.putLongLE(tweaks, s * BLOCK + 8, 0);
            }
            update(encryptTweak, tweaks, sectors * BLOCK, tweaks);
        }

        /**
         * First pass, fused: for every block j of every sector, the mask T·α^j is computed and kept,
         * and buffer = data ^ mask is read straight from the caller's buffer.
         */
        void maskIn(ByteBuffer data, int at, int n, int sectorSize) {
            byte[] b = buffer;
            byte[] m = mask;
            int sectors = n / sectorSize;
            for (int s = 0; s < sectors; s++) {
                long lo = Gf128.getLongLE(tweaks, s * BLOCK);
                long hi = Gf128.getLongLE(tweaks, s * BLOCK + 8);
                int end = (s + 1) * sectorSize;
                for (int i = s * sectorSize; i < end; i += BLOCK) {
                    Gf128.putLongLE(m, i, lo);
                    Gf128.putLongLE(m, i + 8, hi);
                    Gf128.putLongLE(b, i, data.getLong(at + i) ^ lo);
                    Gf128.putLongLE(b, i + 8, data.getLong(at + i + 8) ^ hi);
                    long carry = hi >> 63;
                    hi = (hi << 1) | (lo >>> 63);
                    lo = (lo << 1) ^ (carry & 0x87);
                }
            }
        }

        /** The bulk AES/ECB call; into a second array, as in place the JCE copies its input first (about 2× slower). */
        void cipher(int n, boolean encrypt) {
            update(encrypt ? encryptData : decryptData, buffer, n, out);
        }

        /**
         * Last pass: data = out ^ mask. A plain byte loop, which C2 vectorises, then one bulk copy
         * back: about twice as fast as XORing long by long into the caller's buffer.
         */
        void maskOut(ByteBuffer data, int at, int n) {
            byte[] o = out;
            byte[] m = mask;
            for (int i = 0; i < n; i++) {
                o[i] ^= m[i];
            }
            data.put(at, o, 0, n);
        }

        /** IEEE 1619 ciphertext stealing for a unit whose last block is partial. */
        void stealing(int length, long tweak, boolean encrypt) {
            int full = length / BLOCK;             // whole blocks, including the one stolen from
            int tail = length - full * BLOCK;      // bytes of the final partial block
            masks(((full + 1) * BLOCK), (full + 1) * BLOCK, tweak, 1);
            int last = (full - 1) * BLOCK;         // offset of the last whole block
            Cipher cipher = encrypt ? encryptData : decryptData;
            // Blocks before the last whole one are plain XTS.
            if (full > 1) {
                for (int i = 0; i < last; i++) {
                    buffer[i] ^= mask[i];
                }
                update(cipher, buffer, last, buffer);
                for (int i = 0; i < last; i++) {
                    buffer[i] ^= mask[i];
                }
            }
            // Encryption: CC = E_{m_{full-1}}(P_{full-1}); C_last = CC[0, tail); then
            // C_{full-1} = E_{m_full}(P_tail || CC[tail, 16)).
            // Decryption uses the masks in the other order.
            int firstMask = encrypt ? last : last + BLOCK;
            int secondMask = encrypt ? last + BLOCK : last;
            byte[] block = new byte[BLOCK];
            for (int i = 0; i < BLOCK; i++) {
                block[i] = (byte) (buffer[last + i] ^ mask[firstMask + i]);
            }
            block = single(cipher, block);
            for (int i = 0; i < BLOCK; i++) {
                block[i] ^= mask[firstMask + i];
            }
            byte[] stolen = new byte[BLOCK];
            System.arraycopy(buffer, last + BLOCK, stolen, 0, tail);
            System.arraycopy(block, tail, stolen, tail, BLOCK - tail);
            System.arraycopy(block, 0, buffer, last + BLOCK, tail);
            for (int i = 0; i < BLOCK; i++) {
                stolen[i] ^= mask[secondMask + i];
            }
            stolen = single(cipher, stolen);
            for (int i = 0; i < BLOCK; i++) {
                buffer[last + i] = (byte) (stolen[i] ^ mask[secondMask + i]);
            }
        }

        private static byte[] single(Cipher cipher, byte[] block) {
            byte[] result = new byte[BLOCK];
            update(cipher, block, BLOCK, result);
            return result;
        }

        private static void update(Cipher cipher, byte[] in, int n, byte[] output) {
            try {
                int written = cipher.update(in, 0, n, output, 0);
                if (written != n) {
                    throw new IllegalStateException("AES/ECB returned " + written + " of " + n + " bytes");
                }
            } catch (javax.crypto.ShortBufferException e) {
                throw new IllegalStateException(e);
            }
        }

        void wipe() {
            Arrays.fill(buffer, (byte) 0);
            Arrays.fill(mask, (byte) 0);
            Arrays.fill(tweaks, (byte) 0);
            Arrays.fill(out, (byte) 0);
        }
    }
}
