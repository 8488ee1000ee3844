package io.nbdvault.crypto.xts;

import io.nbdvault.core.GatheredBytes;
import io.nbdvault.crypto.VectorApi;
import io.nbdvault.crypto.aes.AesEcb;
import io.nbdvault.crypto.aes.AesEngine;
import io.nbdvault.crypto.aes.OpenSslXts;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * XTS-AES (IEEE 1619) with 256- or 512-bit keys, tweaks as dm-crypt's plain64 (sector number,
 * little-endian). Two ways, chosen by the JVM's {@link AesEngine}:
 * <ul>
 * <li>Where the engine is OpenSSL's (CPUs without AVX-512 VAES), OpenSSL's own XTS
 * ({@link OpenSslXts}), one call per sector on the data where it lies: a direct buffer is
 * encrypted in place with no copy and no Java pass; heap memory, and a sector split between two
 * pieces of a gathered buffer, go through native scratch space. On an AMD EPYC (AVX2) that is
 * 1.8-2.5× the other way with 4 KiB sectors (5.1-5.6 GB/s per core, 0.93-0.95× {@code openssl
 * speed}). {@code -Dnbdvault.xts.openssl=false} turns it off; it is also off where
 * the check of {@link OpenSslXts#usable()} fails, and for a key with equal halves (OpenSSL refuses
 * those).</li>
 * <li>Otherwise built on large AES/ECB calls ({@link AesEcb}: the JDK's AES-NI/VAES intrinsics, or
 * OpenSSL's): for a batch of sectors the tweak masks are computed in bulk, the data is XORed with
 * them, encrypted in one ECB call, and XORed again (see {@code Worker.batch}).</li>
 * </ul>
 * Both give the same bytes, and nothing is allocated per request. Units whose last block is
 * partial (ciphertext stealing) take the same way as sectors: on OpenSSL's, one call, in which
 * OpenSSL steals the ciphertext itself. An instance on OpenSSL's way so holds no AES/ECB ciphers at
 * all: no further copies of the key schedule.
 *
 * <p>On JDK 25 and later, started with {@code --add-modules jdk.incubator.vector}, on a CPU with
 * 512-bit vectors (and with C2 to compile), the masks are computed and XORed in with the Vector API
 * ({@link VectorTweakMasks}), 1.1-1.3× faster overall; otherwise, or with
 * {@code -Dnbdvault.xts.vector=false}, by scalar code. Both give the same bytes. {@link #maskPath()}
 * says which one runs.
 *
 * <p>Thread-safe: each call borrows a worker (ciphers and scratch space) from a pool. The JCE keeps
 * its own copy of the expanded key inside each Cipher (OpenSSL in its context, which it zeroes when
 * freed); {@link #close()} zeroes what this class holds and closes the ciphers, which for the JCE is
 * as far as it lets key material be erased.
 */
public final class AesXts implements AutoCloseable {
    /** Largest sector (data unit), and the size of each worker's scratch arrays. */
    static final int BATCH = 64 * 1024;
    /**
     * Bytes handled per round of passes (rounded down to whole sectors, at least one sector): the
     * data, its masks and the AES output, 32 KiB in all, then stay in the L1 data cache between the
     * passes (48 KiB on current x86 cores). Measured on 1 MiB requests: 8 KiB about 25 % faster than
     * 64 KiB (which spills to L2), 4 and 12 KiB a little slower than 8.
     */
    static final int CHUNK = 8 * 1024;
    private static final int BLOCK = 16;
    /** Whether new instances compute masks with the Vector API: decided once per JVM. */
    private static final boolean VECTOR_MASKS = vectorMasksUsable();
    /** Whether instances on OpenSSL's engine hand whole sectors to OpenSSL's XTS (-Dnbdvault.xts.openssl). */
    private static final boolean OPENSSL_SECTORS =
            Boolean.parseBoolean(System.getProperty("nbdvault.xts.openssl", "true"));
    /** Sector tweaks encrypted per ECB call: as many as the scratch array holds. */
    private static final int TWEAKS = BATCH / BLOCK;

    private final byte[] dataKey;
    private final byte[] tweakKey;
    /**
     * Idle workers. Slots rather than a ConcurrentLinkedQueue, whose offer allocates a node on every
     * call: a borrow and a give-back cost 17 ns here instead of 32 (single thread, JDK 17), which is
     * 2 % of a 4 KiB request. A thread starts looking at its own slot, so a thread that gives a worker
     * back finds it there next time. A worker given back when every slot is taken is wiped and
     * dropped, and a new one costs three Cipher inits and 256 KiB (on OpenSSL's way, two OpenSSL
     * contexts and 64 KiB of native scratch): there are more slots than threads that can hold a
     * worker at once (event loops, one per core in each of two groups, and crypto workers, one per
     * core).
     */
    private final AtomicReferenceArray<Worker> workers =
            new AtomicReferenceArray<>(Math.max(64, 4 * Runtime.getRuntime().availableProcessors()));
    private final boolean vectorMasks;
    private final AesEngine engine;
    /** Whether whole sectors go to OpenSSL's XTS (see the class comment). */
    private final boolean openSslSectors;
    private volatile boolean closed;
    /** Guards the key halves between building a worker from them and close() zeroing them. */
    private final Object keyLock = new Object();

    public AesXts(byte[] key) {
        this(key, false);
    }

    /** Equal halves are only accepted for the published test vectors, which use them. */
    AesXts(byte[] key, boolean allowEqualHalves) {
        this(key, allowEqualHalves, VECTOR_MASKS, AesEngine.current(), OPENSSL_SECTORS);
    }

    /** The way built on AES/ECB calls, {@code vectorMasks} choosing the mask path: for tests that check both. */
    AesXts(byte[] key, boolean allowEqualHalves, boolean vectorMasks) {
        this(key, allowEqualHalves, vectorMasks, AesEngine.current(), false);
    }

    /** The way built on {@code engine}'s AES/ECB calls, equal halves allowed as above: for tests that check every engine. */
    AesXts(byte[] key, boolean allowEqualHalves, AesEngine engine) {
        this(key, allowEqualHalves, VECTOR_MASKS, engine, false);
    }

    /** OpenSSL's XTS for whole sectors (where {@link OpenSslXts#usable()}), for tests that check it. */
    static AesXts inOpenSsl(byte[] key, boolean allowEqualHalves) {
        return new AesXts(key, allowEqualHalves, VECTOR_MASKS, AesEngine.OPENSSL, true);
    }

    /**
     * {@code openSslSectors}: OpenSSL's XTS for whole sectors, where the engine is OpenSSL's, the
     * check of {@link OpenSslXts#usable()} passed and the key halves differ.
     */
    private AesXts(byte[] key, boolean allowEqualHalves, boolean vectorMasks, AesEngine engine, boolean openSslSectors) {
        if (key.length != 32 && key.length != 64) {
            throw new IllegalArgumentException("XTS-AES needs a 256- or 512-bit key, got " + key.length * 8 + " bits");
        }
        int half = key.length / 2;
        this.dataKey = Arrays.copyOfRange(key, 0, half);
        this.tweakKey = Arrays.copyOfRange(key, half, key.length);
        this.vectorMasks = vectorMasks;
        this.engine = engine;
        if (!allowEqualHalves && Arrays.equals(dataKey, tweakKey)) {
            // IEEE 1619-2018 forbids equal halves (it defeats the mode); cryptsetup refuses them too.
            throw new IllegalArgumentException("XTS key halves must differ");
        }
        // OpenSSL refuses equal halves as well: the published test vectors that use them take the
        // ECB-built way.
        this.openSslSectors = openSslSectors && openSslXtsRunsOn(engine) && !Arrays.equals(dataKey, tweakKey);
    }

    /** Whether this instance hands whole sectors to OpenSSL's XTS. */
    boolean openSslSectors() {
        return openSslSectors;
    }

    /**
     * How this JVM's XTS computes the tweak masks: "openssl" (inside OpenSSL's XTS, see the class
     * comment), "vector" (512-bit, Vector API) or "scalar".
     */
    public static String maskPath() {
        return openSslSectorsByDefault() ? "openssl" : VECTOR_MASKS ? "vector" : "scalar";
    }

    private static boolean openSslSectorsByDefault() {
        try {
            return OPENSSL_SECTORS && openSslXtsRunsOn(AesEngine.current());
        } catch (IllegalStateException e) {
            return false; // no engine at all: every use fails, with the reason
        }
    }

    /** Whether OpenSSL's XTS can take whole sectors for an instance on {@code engine}'s AES. */
    private static boolean openSslXtsRunsOn(AesEngine engine) {
        return engine == AesEngine.OPENSSL && OpenSslXts.usable();
    }

    /**
     * The vector path only where it is faster: asked for (the default), the Vector API running well
     * ({@link VectorApi#runsWell()}: its module, C2, JDK 25 or later; on JDK 17 this pass had phases
     * 4-5× slower, and replacing the lane swap ({@code rearrange}) with a lane-wise operation made
     * them go, so JDK 17's rearrange is the suspect), and the CPU with 512-bit vectors.
     */
    private static boolean vectorMasksUsable() {
        if (!VectorApi.wanted("nbdvault.xts.vector")) {
            return false;
        }
        try {
            return VectorTweakMasks.fitsThisCpu();
        } catch (LinkageError e) {
            return false;
        }
    }

    /** Key size in bits (256 for XTS-AES-128, 512 for XTS-AES-256). */
    public int keyBits() {
        return (dataKey.length + tweakKey.length) * 8;
    }

    public void encrypt(ByteBuffer data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(new GatheredBytes(data), sectorSize, firstTweak, tweakStep, true);
    }

    public void decrypt(ByteBuffer data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(new GatheredBytes(data), sectorSize, firstTweak, tweakStep, false);
    }

    /** Encrypts whole sectors in place wherever they lie (for example across the parts of a gathered buffer). */
    public void encrypt(GatheredBytes data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(data, sectorSize, firstTweak, tweakStep, true);
    }

    public void decrypt(GatheredBytes data, int sectorSize, long firstTweak, long tweakStep) {
        crypt(data, sectorSize, firstTweak, tweakStep, false);
    }

    /** Encrypts one data unit of any length of at least 16 bytes, with ciphertext stealing. */
    public void encryptUnit(ByteBuffer data, long tweak) {
        unit(data, tweak, true);
    }

    public void decryptUnit(ByteBuffer data, long tweak) {
        unit(data, tweak, false);
    }

    private void crypt(GatheredBytes data, int sectorSize, long firstTweak, long tweakStep, boolean encrypt) {
        if (sectorSize < BLOCK || sectorSize % BLOCK != 0 || sectorSize > BATCH) {
            throw new IllegalArgumentException("sector size must be a multiple of 16 up to " + BATCH + ": " + sectorSize);
        }
        int length = data.length();
        if (length % sectorSize != 0) {
            throw new IllegalArgumentException(length + " bytes is not a whole number of " + sectorSize + "-byte sectors");
        }
        Worker w = borrow();
        try {
            if (w.openSsl != null) {
                w.openSsl.crypt(data, sectorSize, firstTweak, tweakStep, encrypt);
                return;
            }
            int perRound = Math.max(1, CHUNK / sectorSize);
            int sectors = length / sectorSize;
            // The tweaks of up to TWEAKS sectors in one ECB call (each call costs ~30 ns on its
            // own), then the data in rounds of CHUNK bytes.
            for (int first = 0; first < sectors; first += TWEAKS) {
                int count = Math.min(TWEAKS, sectors - first);
                w.sectorTweaks(count, firstTweak + (long) first * tweakStep, tweakStep);
                for (int s = 0; s < count; s += perRound) {
                    int k = Math.min(perRound, count - s);
                    w.batch(data, (first + s) * sectorSize, k * sectorSize, sectorSize, s, encrypt);
                }
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
            crypt(new GatheredBytes(data), length, tweak, 1, encrypt);
            return;
        }
        Worker w = borrow();
        try {
            if (w.openSsl != null) {
                // OpenSSL's XTS steals ciphertext itself: the unit is one call, as a sector is.
                w.openSsl.crypt(new GatheredBytes(data), length, tweak, 1, encrypt);
                return;
            }
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
        int n = workers.length();
        int first = homeSlot(n);
        for (int k = 0; k < n; k++) {
            int i = (first + k) % n;
            Worker w = workers.get(i);
            if (w != null && workers.compareAndSet(i, w, null)) {
                return w;
            }
        }
        // Under the key lock: a worker built while close() zeroes the key would encrypt with a
        // zero key, silently. Building one is rare (the pool misses), so the lock costs nothing.
        synchronized (keyLock) {
            if (closed) {
                throw new IllegalStateException("cipher is closed");
            }
            return new Worker(dataKey, tweakKey, vectorMasks, engine, openSslSectors);
        }
    }

    /** Whether this instance's workers hold AES/ECB ciphers: for the test that OpenSSL's way builds none. */
    boolean workersHoldEcbCiphers() {
        Worker w = borrow();
        try {
            return w.encryptData != null;
        } finally {
            giveBack(w);
        }
    }

    private void giveBack(Worker w) {
        if (!closed) {
            int n = workers.length();
            int first = homeSlot(n);
            for (int k = 0; k < n; k++) {
                int i = (first + k) % n;
                if (workers.get(i) == null && workers.compareAndSet(i, null, w)) {
                    if (closed) {
                        wipeIdle(); // close() may have emptied the slots before this one was filled
                    }
                    return;
                }
            }
        }
        w.wipe();
    }

    private static int homeSlot(int slots) {
        return (int) ((Thread.currentThread().getId() & Long.MAX_VALUE) % slots);
    }

    @Override
    public void close() {
        synchronized (keyLock) {
            closed = true;
            Arrays.fill(dataKey, (byte) 0);
            Arrays.fill(tweakKey, (byte) 0);
        }
        wipeIdle();
    }

    private void wipeIdle() {
        for (int i = 0; i < workers.length(); i++) {
            Worker w = workers.getAndSet(i, null);
            if (w != null) {
                w.wipe();
            }
        }
    }

    /**
     * Ciphers and scratch space for one thread at a time: OpenSSL's XTS ({@link #openSsl}), or the
     * AES/ECB ciphers and arrays of the way built on them. Never both: on OpenSSL's way they would be
     * three more copies of the key schedule in memory, and 256 KiB, for nothing.
     */
    private static final class Worker {
        // The ECB-built way's; null where OpenSSL's XTS does whole sectors and ciphertext stealing.
        private final AesEcb encryptData;
        private final AesEcb decryptData;
        private final AesEcb encryptTweak;
        final byte[] buffer;
        private final byte[] mask;
        private final byte[] tweaks;
        private final byte[] out;
        private final long[] start = new long[2];
        private final boolean vectorMasks;
        /** OpenSSL's XTS for whole sectors and units, or null for the ECB-built way. */
        final SectorsInOpenSsl openSsl;

        Worker(byte[] dataKey, byte[] tweakKey, boolean vectorMasks, AesEngine engine, boolean openSslSectors) {
            this.vectorMasks = vectorMasks;
            openSsl = openSslSectors ? new SectorsInOpenSsl(dataKey, tweakKey) : null;
            boolean ecb = openSsl == null;
            encryptData = ecb ? engine.encrypting(dataKey) : null;
            decryptData = ecb ? engine.decrypting(dataKey) : null;
            encryptTweak = ecb ? engine.encrypting(tweakKey) : null;
            buffer = ecb ? new byte[BATCH] : null;
            mask = ecb ? new byte[BATCH] : null;
            tweaks = ecb ? new byte[BATCH] : null;
            out = ecb ? new byte[BATCH] : null;
        }

        /**
         * One batch of whole sectors, in passes over arrays that stay in L1: copy in; the masks and
         * buffer ^= mask (one Vector API pass, or two scalar ones); out = AES(buffer); out ^= mask;
         * copy out. Each pass is a loop C2 compiles well (bulk copies, byte XOR loops it vectorises,
         * the JDK's AES/ECB intrinsic); long-by-long access to the caller's ByteBuffer is not
         * vectorised at all, so the copies stay.
         *
         * <p>Where the time goes, per 8 KiB round of 4 KiB sectors (Xeon with AVX-512 and VAES,
         * JDK 17, thread CPU time, each pass alone with its arrays in L1): AES/ECB 460-510 ns, scalar
         * masks 275-360, each XOR 100, each copy 50-55 (JDK 25: ECB 460-490, masks 275-310, XOR 82-107,
         * copy 47-58). Copy in, masks and the first XOR: 450-490 scalar, 330-380 as one vector pass
         * (the same loops timed alone, as bench XtsPasses times the scalar ones). Scalar
         * alternatives that were not faster: rounds of 4 KiB or 16 KiB (16 KiB 20 % slower: the
         * three arrays no longer fit in L1), 4 chains, or T·α^(j+8) from T·α^j with a 256-entry
         * reduction table (300-420 ns against 280), masks written for C2's superword over long[]
         * with lane masks (not vectorised: 770 ns), and XORing the masks in while computing them,
         * long by long.
         */
        void batch(GatheredBytes data, int at, int n, int sectorSize, int firstTweakIndex, boolean encrypt) {
            data.get(at, buffer, 0, n);
            if (vectorMasks && sectorSize % VectorTweakMasks.SECTOR_MULTIPLE == 0) {
                VectorTweakMasks.maskAndXor(buffer, mask, tweaks, firstTweakIndex * BLOCK, n, sectorSize);
            } else {
                masks(n, sectorSize, firstTweakIndex);
                xor(buffer, mask, n);
            }
            (encrypt ? encryptData : decryptData).apply(buffer, 0, n, out, 0);
            xor(out, mask, n);
            data.put(at, out, 0, n);
        }

        /** a[0, n) ^= m[0, n): a byte loop, which C2 turns into vector instructions. */
        private static void xor(byte[] a, byte[] m, int n) {
            for (int i = 0; i < n; i++) {
                a[i] ^= m[i];
            }
        }

        /**
         * Fills {@code mask[0, n)} with T·α^j for every block j of every sector in the batch, the
         * sectors' T read from {@code tweaks} from index {@code firstTweakIndex} on.
         *
         * <p>Each step T·α^j → T·α^(j+1) is a 128-bit shift and a conditional XOR, a chain of three
         * dependent operations. Two independent chains per sector, the second starting at
         * T·α^(blocks/2) computed directly ({@link Gf128#mulAlphaPow}), keep the core's ALUs busy,
         * and the shifts by one are written as additions, which run on more execution ports than
         * shifts do: together about 1.4× faster than one chain with shifts.
         */
        void masks(int n, int sectorSize, int firstTweakIndex) {
            int sectors = n / sectorSize;
            byte[] m = mask;
            int t0 = firstTweakIndex * BLOCK;
            if (sectorSize % (2 * BLOCK) != 0) {
                for (int s = 0; s < sectors; s++) {
                    Gf128.powersOfAlpha(m, s * sectorSize, sectorSize, Gf128.getLongLE(tweaks, t0 + s * BLOCK),
                            Gf128.getLongLE(tweaks, t0 + s * BLOCK + 8));
                }
                return;
            }
            int half = sectorSize / 2;
            long[] start = this.start;
            for (int s = 0; s < sectors; s++) {
                long lo = Gf128.getLongLE(tweaks, t0 + s * BLOCK);
                long hi = Gf128.getLongLE(tweaks, t0 + s * BLOCK + 8);
                Gf128.mulAlphaPow(lo, hi, half / BLOCK, start);
                long lo2 = start[0];
                long hi2 = start[1];
                int base = s * sectorSize;
                for (int i = base; i < base + half; i += BLOCK) {
                    Gf128.putLongLE(m, i, lo);
                    Gf128.putLongLE(m, i + 8, hi);
                    Gf128.putLongLE(m, i + half, lo2);
                    Gf128.putLongLE(m, i + half + 8, hi2);
                    long reduce = (hi >> 63) & 0x87;
                    hi = hi + hi + (lo >>> 63);
                    lo = (lo + lo) ^ reduce;
                    long reduce2 = (hi2 >> 63) & 0x87;
                    hi2 = hi2 + hi2 + (lo2 >>> 63);
                    lo2 = (lo2 + lo2) ^ reduce2;
                }
            }
        }

        /** One ECB call encrypts every sector's tweak: T = AES_k2(sector number, little-endian). */
        void sectorTweaks(int sectors, long firstTweak, long tweakStep) {
            // Written to `out` and encrypted into `tweaks`, not in place: the JCE copies the input
            // of an in-place call to a new array first (see stealing). One block: 13 ns this way,
            // 20-30 in place.
            for (int s = 0; s < sectors; s++) {
                Gf128.putLongLE(out, s * BLOCK, firstTweak + s * tweakStep);
                Gf128.putLongLE(out, s * BLOCK + 8, 0);
            }
            encryptTweak.apply(out, 0, sectors * BLOCK, tweaks, 0);
        }

        /** IEEE 1619 ciphertext stealing for a unit whose last block is partial. */
        void stealing(int length, long tweak, boolean encrypt) {
            int full = length / BLOCK;             // whole blocks, including the one stolen from
            int tail = length - full * BLOCK;      // bytes of the final partial block
            sectorTweaks(1, tweak, 1);
            masks(((full + 1) * BLOCK), (full + 1) * BLOCK, 0);
            int last = (full - 1) * BLOCK;         // offset of the last whole block
            AesEcb cipher = encrypt ? encryptData : decryptData;
            // Blocks before the last whole one are plain XTS.
            // Into `out`, not in place: the JCE copies an in-place call's input to a new array
            // first, and in-place AES/ECB measured about 3 times slower than into another array
            // (8 KiB: 1.2-1.5 µs instead of 0.43-0.45, JDK 17 and 25; bench XtsPasses).
            if (full > 1) {
                xor(buffer, mask, last);
                cipher.apply(buffer, 0, last, out, 0);
                for (int i = 0; i < last; i++) {
                    buffer[i] = (byte) (out[i] ^ mask[i]);
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

        private static byte[] single(AesEcb cipher, byte[] block) {
            byte[] result = new byte[BLOCK];
            cipher.apply(block, 0, BLOCK, result, 0);
            return result;
        }

        /** Zeroes the scratch space and closes the ciphers: the worker is being dropped. */
        void wipe() {
            if (openSsl != null) {
                openSsl.close();
                return;
            }
            encryptData.close();
            decryptData.close();
            encryptTweak.close();
            Arrays.fill(buffer, (byte) 0);
            Arrays.fill(mask, (byte) 0);
            Arrays.fill(tweaks, (byte) 0);
            Arrays.fill(out, (byte) 0);
        }
    }

    /**
     * One worker's OpenSSL XTS contexts (one per direction) and native scratch space: whole sectors
     * of a gathered buffer, each in one call. A run of sectors inside one direct piece is done where
     * it lies; heap pieces, and a sector split between two pieces, are copied through the scratch.
     */
    private static final class SectorsInOpenSsl {
        private final OpenSslXts encrypt;
        private final OpenSslXts decrypt;
        private final ByteBuffer scratch = ByteBuffer.allocateDirect(BATCH);
        private final long scratchAddress;

        SectorsInOpenSsl(byte[] dataKey, byte[] tweakKey) {
            byte[] key = new byte[dataKey.length + tweakKey.length];
            System.arraycopy(dataKey, 0, key, 0, dataKey.length);
            System.arraycopy(tweakKey, 0, key, dataKey.length, tweakKey.length);
            try {
                encrypt = OpenSslXts.create(key, true);
                try {
                    decrypt = OpenSslXts.create(key, false);
                } catch (RuntimeException e) {
                    encrypt.close();
                    throw e;
                }
            } finally {
                Arrays.fill(key, (byte) 0);
            }
            scratchAddress = encrypt.address(scratch);
        }

        void crypt(GatheredBytes data, int sectorSize, long firstTweak, long tweakStep, boolean encrypting) {
            OpenSslXts xts = encrypting ? encrypt : decrypt;
            int length = data.length();
            long tweak = firstTweak;
            int at = 0;
            while (at < length) {
                ByteBuffer piece = data.pieceAt(at);
                int whole = data.contiguousFrom(at) / sectorSize * sectorSize;
                if (piece.isDirect() && whole > 0) {
                    if (piece.isReadOnly()) {
                        throw new ReadOnlyBufferException(); // as a put into it would
                    }
                    long address = xts.address(piece) + data.offsetInPiece(at);
                    for (int k = 0; k < whole; k += sectorSize, tweak += tweakStep) {
                        xts.sector(address + k, sectorSize, tweak);
                    }
                    Reference.reachabilityFence(piece); // its memory, not just the object, until here
                    at += whole;
                } else {
                    int n = Math.min(Math.max(whole, sectorSize), BATCH / sectorSize * sectorSize);
                    data.get(at, scratch, 0, n);
                    for (int k = 0; k < n; k += sectorSize, tweak += tweakStep) {
                        xts.sector(scratchAddress + k, sectorSize, tweak);
                    }
                    data.put(at, scratch, 0, n);
                    at += n;
                }
            }
        }

        void close() {
            encrypt.close();
            decrypt.close();
            for (int i = 0; i < BATCH; i += 8) {
                scratch.putLong(i, 0);
            }
        }
    }
}
