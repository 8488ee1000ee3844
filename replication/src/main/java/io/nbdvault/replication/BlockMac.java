package io.nbdvault.replication;

import io.nbdvault.core.GatheredBytes;
import io.nbdvault.crypto.VectorApi;
import io.nbdvault.crypto.aes.AesEcb;
import io.netty.buffer.ByteBuf;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.UUID;

/**
 * The integrity tag of one member block: a keyed MAC over the block's ciphertext and its place in
 * the array (mirror group, block number), the same on every copy, so a replica can neither forge a
 * block nor move one to another address, and a copy's tag vouches for it on any other copy.
 *
 * <p>The construction is PMAC's (Rogaway): {@code Σ = ⊕ᵢ AES_K1(Mᵢ ⊕ Δᵢ)} over the block's 16-byte
 * pieces with secret per-position masks Δᵢ, then {@code tag = AES_K2(Σ ⊕ address)}. Σ is an
 * almost-XOR-universal hash (for messages of one fixed length), so the final AES under its own key
 * makes a deterministic PRF of (address, block): secure up to the birthday bound on the blocks
 * tagged, with no nonce to repeat when a block is rewritten (GMAC and Poly1305 with a per-address
 * key would leak their keys on the second write of an address). It is chosen for speed: all the
 * AES runs as one bulk ECB call ({@link AesEcb}: the JDK's AES-NI/VAES stub, or OpenSSL's where the
 * JDK's runs one block at a time), the rest is XOR, so a tag costs about as much as the XTS
 * encryption of the same block; HMAC-SHA256 runs at about a tenth of that. The two XOR passes
 * around the AES run in the CPU's widest vectors where the Vector API runs well
 * ({@link VectorBlockMac}), else long by long; both give the same tags. 128-bit tags: a forgery
 * is a 2⁻¹²⁸ guess per try.
 *
 * <p>Keys: HKDF-SHA256 of the LUKS volume key, salted with the array UUID, so two arrays under one
 * passphrase have unrelated tags, and anyone who can read the volume can check it.
 *
 * <p>Threads: any; each thread gets its own ciphers and scratch space.
 */
final class BlockMac {
    static final int TAG = 16;
    private static final int CHUNK = 64 * 1024;
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final byte[] INFO = "nbdvault integrity v1 (PMAC-AES-256)".getBytes(StandardCharsets.US_ASCII);

    private final int unit;
    /** The secret per-position masks Δᵢ of a block's 16-byte pieces, {@code unit} bytes in all. */
    private final byte[] maskBytes;
    private final byte[] inner;
    private final byte[] outer;
    private final long zeroSigma0;
    private final long zeroSigma1;
    /** Whether the passes around the AES run with the Vector API ({@link VectorBlockMac}). */
    private final boolean vectorPasses;
    private final ThreadLocal<Worker> workers = ThreadLocal.withInitial(Worker::new);

    private BlockMac(int unit, byte[] okm, boolean vectorPasses) {
        this.unit = unit;
        this.vectorPasses = vectorPasses;
        this.inner = Arrays.copyOfRange(okm, 0, 32);
        this.outer = Arrays.copyOfRange(okm, 32, 64);
        this.maskBytes = Arrays.copyOfRange(okm, 64, 64 + unit);
        Arrays.fill(okm, (byte) 0);
        long[] zero = sigmaOfZeroBlock();
        zeroSigma0 = zero[0];
        zeroSigma1 = zero[1];
    }

    /** The MAC of an array whose volume key is {@code volumeKey}, for blocks of {@code unit} bytes. */
    static BlockMac derive(byte[] volumeKey, UUID array, int unit) {
        return derive(volumeKey, array, unit, vectorPassesFit(unit));
    }

    /** As {@link #derive(byte[], UUID, int)}, the passes around the AES with the Vector API or not (tests run both). */
    static BlockMac derive(byte[] volumeKey, UUID array, int unit, boolean vectorPasses) {
        if (unit < 512 || unit > 4096 || Integer.bitCount(unit) != 1) {
            throw new IllegalArgumentException("integrity block must be a power of two from 512 to 4096: " + unit);
        }
        try {
            byte[] salt = ByteBuffer.allocate(16).putLong(array.getMostSignificantBits())
                    .putLong(array.getLeastSignificantBits()).array();
            return new BlockMac(unit, hkdf(volumeKey, salt, 64 + unit), vectorPasses);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 and AES are part of every JDK", e);
        }
    }

    /** RFC 5869 HKDF with HMAC-SHA256. */
    private static byte[] hkdf(byte[] ikm, byte[] salt, int length) throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(salt, "HmacSHA256"));
        byte[] prk = mac.doFinal(ikm);
        mac.init(new SecretKeySpec(prk, "HmacSHA256"));
        Arrays.fill(prk, (byte) 0);
        byte[] out = new byte[length];
        byte[] t = new byte[0];
        for (int pos = 0, counter = 1; pos < length; counter++) {
            mac.update(t);
            mac.update(INFO);
            mac.update((byte) counter);
            t = mac.doFinal();
            int n = Math.min(t.length, length - pos);
            System.arraycopy(t, 0, out, pos, n);
            pos += n;
        }
        return out;
    }

    /**
     * The Vector API passes where they run well ({@link VectorApi#runsWell()}) and fit the block
     * size, unless {@code -Dnbdvault.mac.vector=false}.
     */
    static boolean vectorPassesFit(int unit) {
        if (!VectorApi.wanted("nbdvault.mac.vector")) {
            return false;
        }
        try {
            return VectorBlockMac.fits(unit);
        } catch (LinkageError e) {
            return false;
        }
    }

    /** "vector (256-bit)" or "scalar": how this MAC's passes around the AES run, for {@code status}. */
    String passes() {
        return vectorPasses ? "vector (" + VectorBlockMac.vectorBits() + "-bit)" : "scalar";
    }

    int unit() {
        return unit;
    }

    /**
     * Tags of the {@code blocks} blocks at {@code data}'s index {@code at}, the first being block
     * {@code firstBlock} of mirror group {@code group}, into {@code out} from {@code outAt}.
     */
    void tags(ByteBuf data, int at, int blocks, long firstBlock, int group, byte[] out, int outAt) {
        Worker w = workers.get();
        GatheredBytes pieces = new GatheredBytes(data, at, blocks * unit);
        byte[] sigmas = w.sigmas(blocks);
        int perChunk = CHUNK / unit;
        for (int b = 0; b < blocks; b += perChunk) {
            int n = Math.min(perChunk, blocks - b);
            int bytes = n * unit;
            // A bulk copy out of the buffer, then passes over arrays long by long: the masks, AES, Σ.
            // (Reading the buffer long by long instead ran at 1.5 to 7 GB/s depending on which
            // buffer classes the JIT had seen at that call; this runs at 7 on JDK 17 and 25.)
            pieces.get(b * unit, w.in, 0, bytes);
            mask(w.in, bytes);
            w.inner.apply(w.in, 0, bytes, w.out, 0);
            for (int k = 0; k < n; k++) {
                sigma(w.out, k * unit, w.sigma);
                putAddressed(sigmas, (b + k) * TAG, w.sigma[0], w.sigma[1], firstBlock + b + k, group);
            }
        }
        w.outer.apply(sigmas, 0, blocks * TAG, out, outAt);
    }

    /** XORs the block masks over {@code n} bytes of {@code in} from 0, {@code n} a multiple of the block size. */
    private void mask(byte[] in, int n) {
        if (vectorPasses) {
            VectorBlockMac.mask(in, n, maskBytes, unit);
        } else {
            scalarMask(in, n);
        }
    }

    /** Σ of the block at {@code at} of {@code a}, into {@code into[0..1]}. */
    private void sigma(byte[] a, int at, long[] into) {
        if (vectorPasses) {
            VectorBlockMac.sigma(a, at, unit, into);
        } else {
            scalarSigma(a, at, unit, into);
        }
    }

    private void scalarMask(byte[] in, int n) {
        for (int k = 0; k < n; k += unit) {
            for (int i = 0; i < unit; i += 8) {
                LONGS.set(in, k + i, (long) LONGS.get(in, k + i) ^ (long) LONGS.get(maskBytes, i));
            }
        }
    }

    /**
     * Σ of the block at {@code at}: the XOR of its 16-byte pieces, in four independent pairs of
     * accumulators so the XORs do not wait on each other, into {@code into[0..1]}.
     */
    private static void scalarSigma(byte[] a, int at, int n, long[] into) {
        long x0 = 0, y0 = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0, x3 = 0, y3 = 0;
        for (int i = at, end = at + n; i < end; i += 64) {
            x0 ^= (long) LONGS.get(a, i);
            y0 ^= (long) LONGS.get(a, i + 8);
            x1 ^= (long) LONGS.get(a, i + 16);
            y1 ^= (long) LONGS.get(a, i + 24);
            x2 ^= (long) LONGS.get(a, i + 32);
            y2 ^= (long) LONGS.get(a, i + 40);
            x3 ^= (long) LONGS.get(a, i + 48);
            y3 ^= (long) LONGS.get(a, i + 56);
        }
        into[0] = x0 ^ x1 ^ x2 ^ x3;
        into[1] = y0 ^ y1 ^ y2 ^ y3;
    }

    /** Tags of blocks of zeroes (a fresh or discarded range): Σ is the same for all, so only the outer AES runs. */
    void zeroTags(int blocks, long firstBlock, int group, byte[] out, int outAt) {
        Worker w = workers.get();
        byte[] sigmas = w.sigmas(blocks);
        for (int k = 0; k < blocks; k++) {
            putAddressed(sigmas, k * TAG, zeroSigma0, zeroSigma1, firstBlock + k, group);
        }
        w.outer.apply(sigmas, 0, blocks * TAG, out, outAt);
    }

    private void putAddressed(byte[] sigmas, int at, long s0, long s1, long block, int group) {
        LONGS.set(sigmas, at, s0 ^ block);
        LONGS.set(sigmas, at + 8, s1 ^ (((long) group << 32) | unit));
    }

    private long[] sigmaOfZeroBlock() {
        Worker w = workers.get();
        Arrays.fill(w.in, 0, unit, (byte) 0);
        mask(w.in, unit);
        w.inner.apply(w.in, 0, unit, w.out, 0);
        long[] s = new long[2];
        sigma(w.out, 0, s);
        return s;
    }

    /** One thread's ciphers and scratch buffers. */
    private final class Worker {
        final AesEcb inner = AesEcb.encrypting(BlockMac.this.inner);
        final AesEcb outer = AesEcb.encrypting(BlockMac.this.outer);
        final byte[] in = new byte[CHUNK];
        final byte[] out = new byte[CHUNK];
        final long[] sigma = new long[2];
        byte[] sigmas = new byte[CHUNK / 512 * TAG];

        byte[] sigmas(int blocks) {
            if (sigmas.length < blocks * TAG) {
                sigmas = new byte[blocks * TAG];
            }
            return sigmas;
        }
    }
}
