package io.nbdvault.crypto.xts;

import io.nbdvault.crypto.aes.AesEngine;
import io.nbdvault.crypto.aes.TestEngines;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class AesXtsTest {
    private static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path dir;

    /**
     * OpenSSL's AES underneath gives the bytes the JDK's does, for every sector size, request size
     * (within one ECB call of tweaks and across several) and unit length with ciphertext stealing.
     */
    @Test
    void theEnginesGiveTheSameBytes() {
        Random random = new Random(7);
        byte[] key = new byte[64];
        random.nextBytes(key);
        List<AesEngine> engines = TestEngines.all();
        try (AesXts jdk = new AesXts(key, false, engines.get(0)); AesXts onEcb = new AesXts(key, false, engines.get(1));
             AesXts inOpenSsl = AesXts.inOpenSsl(key, false)) {
            assertTrue(inOpenSsl.openSslSectors(), "OpenSSL's XTS unusable: " + io.nbdvault.crypto.aes.OpenSslXts.unusableReason());
            for (AesXts openssl : List.of(onEcb, inOpenSsl)) {
                String way = openssl == onEcb ? "on OpenSSL's AES/ECB" : "OpenSSL's XTS";
                for (int sectorSize : new int[] {512, 4096}) {
                    for (int length : new int[] {sectorSize, 8 * 4096, 1 << 20, (1 << 20) + 64 * 1024}) {
                        byte[] plain = new byte[length];
                        random.nextBytes(plain);
                        ByteBuffer a = ByteBuffer.wrap(plain.clone());
                        ByteBuffer b = ByteBuffer.allocateDirect(length).put(plain.clone()).flip();
                        jdk.encrypt(a, sectorSize, 1000, sectorSize / 512);
                        openssl.encrypt(b, sectorSize, 1000, sectorSize / 512);
                        assertArrayEquals(bytes(a), bytes(b), way + ", " + sectorSize + "-byte sectors, " + length + " bytes");
                        openssl.decrypt(a, sectorSize, 1000, sectorSize / 512);
                        assertArrayEquals(plain, bytes(a), "decrypted " + way + ", heap, " + length + " bytes");
                        jdk.decrypt(b, sectorSize, 1000, sectorSize / 512);
                        assertArrayEquals(plain, bytes(b), "decrypted by the JDK's, " + length + " bytes");
                    }
                }
                // Sectors in native memory where they lie, in heap pieces, and split across two pieces.
                for (boolean someOnHeap : new boolean[] {false, true}) {
                    byte[] whole = new byte[8 * 4096];
                    random.nextBytes(whole);
                    io.netty.buffer.CompositeByteBuf pieces = io.netty.buffer.Unpooled.compositeBuffer(64);
                    for (int at = 0, k = 0; at < whole.length; k++) {
                        int n = Math.min(k % 2 == 0 ? 5000 : 4096 * 3, whole.length - at);
                        io.netty.buffer.ByteBuf piece = someOnHeap && k % 3 == 1
                                ? io.netty.buffer.Unpooled.buffer(n) : io.netty.buffer.Unpooled.directBuffer(n);
                        pieces.addComponent(true, piece.writeBytes(whole, at, n));
                        at += n;
                    }
                    try {
                        ByteBuffer a = ByteBuffer.wrap(whole.clone());
                        jdk.encrypt(a, 4096, 5, 8);
                        openssl.encrypt(new io.nbdvault.core.GatheredBytes(pieces, 0, whole.length), 4096, 5, 8);
                        byte[] got = new byte[whole.length];
                        pieces.getBytes(0, got);
                        assertArrayEquals(bytes(a), got, way + ", sectors gathered from uneven pieces, heap too: " + someOnHeap);
                        openssl.decrypt(new io.nbdvault.core.GatheredBytes(pieces, 0, whole.length), 4096, 5, 8);
                        pieces.getBytes(0, got);
                        assertArrayEquals(whole, got, way + ", gathered sectors decrypted");
                    } finally {
                        pieces.release();
                    }
                }
                for (int unit : new int[] {17, 31, 100, 4095}) {
                    byte[] plain = new byte[unit];
                    random.nextBytes(plain);
                    ByteBuffer a = ByteBuffer.wrap(plain.clone());
                    ByteBuffer b = ByteBuffer.wrap(plain.clone());
                    jdk.encryptUnit(a, 99);
                    openssl.encryptUnit(b, 99);
                    assertArrayEquals(bytes(a), bytes(b), way + ", a unit of " + unit + " bytes");
                }
            }
        }
    }

    /**
     * OpenSSL's XTS works on a direct buffer's memory where it lies: only the bytes between position
     * and limit change, and a read-only view is refused before any byte is touched.
     */
    @Test
    void openSslSectorsTouchOnlyTheRangeAndRefuseReadOnlyMemory() {
        byte[] key = new byte[64];
        new Random(11).nextBytes(key);
        TestEngines.requireOpenSsl();
        try (AesXts xts = AesXts.inOpenSsl(key, false); AesXts reference = new AesXts(key, false, AesEngine.JDK)) {
            assertTrue(xts.openSslSectors(), io.nbdvault.crypto.aes.OpenSslXts.unusableReason());
            ByteBuffer memory = ByteBuffer.allocateDirect(4 * 512);
            ByteBuffer range = memory.duplicate().position(512).limit(1536);
            xts.encrypt(range, 512, 40, 1);
            byte[] all = bytes(memory);
            assertArrayEquals(new byte[512], java.util.Arrays.copyOfRange(all, 0, 512), "before the range");
            assertArrayEquals(new byte[512], java.util.Arrays.copyOfRange(all, 1536, 2048), "after the range");
            ByteBuffer expected = ByteBuffer.allocate(1024);
            reference.encrypt(expected, 512, 40, 1);
            assertArrayEquals(bytes(expected), java.util.Arrays.copyOfRange(all, 512, 1536), "the range, at the position");

            ByteBuffer readOnly = memory.asReadOnlyBuffer();
            assertThrows(java.nio.ReadOnlyBufferException.class, () -> xts.encrypt(readOnly, 512, 0, 1));
            assertArrayEquals(all, bytes(memory), "a read-only view's memory is left alone");
        }
    }

    /** IEEE Std 1619-2007 Annex B: vectors 1-3 (whole blocks) and 15-18 (ciphertext stealing). */
    @ParameterizedTest(name = "IEEE 1619 vector {0}")
    @CsvSource({
            "1, 00000000000000000000000000000000, 00000000000000000000000000000000, 0, "
                    + "0000000000000000000000000000000000000000000000000000000000000000, "
                    + "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e",
            "2, 11111111111111111111111111111111, 22222222222222222222222222222222, 3333333333, "
                    + "4444444444444444444444444444444444444444444444444444444444444444, "
                    + "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0",
            "3, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0, 22222222222222222222222222222222, 3333333333, "
                    + "4444444444444444444444444444444444444444444444444444444444444444, "
                    + "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89",
            "15, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0, bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0, 123456789a, "
                    + "000102030405060708090a0b0c0d0e0f10, 6c1625db4671522d3d7599601de7ca09ed",
            "16, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0, bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0, 123456789a, "
                    + "000102030405060708090a0b0c0d0e0f1011, d069444b7a7e0cab09e24447d24deb1fedbf",
            "17, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0, bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0, 123456789a, "
                    + "000102030405060708090a0b0c0d0e0f101112, e5df1351c0544ba1350b3363cd8ef4beedbf9d",
            "18, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0, bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0, 123456789a, "
                    + "000102030405060708090a0b0c0d0e0f10111213, 9d84c813f719aa2c7be3f66171c7c5c2edbf9dac",
    })
    void ieee1619Vectors(int vector, String key1, String key2, String sequence, String plain, String cipher) {
        byte[] key = HEX.parseHex(key1 + key2);
        long tweak = Long.parseLong(sequence, 16);
        List<AesXts> ways = new java.util.ArrayList<>();
        for (AesEngine engine : TestEngines.all()) {
            ways.add(new AesXts(key, true, engine));
        }
        ways.add(AesXts.inOpenSsl(key, true));
        // OpenSSL refuses equal halves (vector 1): that instance takes the ECB-built way.
        assertEquals(!key1.equals(key2), ways.get(2).openSslSectors(), "OpenSSL's XTS, vector " + vector);
        try {
            for (AesXts xts : ways) {
                String way = xts == ways.get(2) ? "OpenSSL's XTS" : "on " + ways.indexOf(xts) + "'s AES/ECB";
                for (boolean direct : new boolean[] {false, true}) {
                    ByteBuffer data = buffer(HEX.parseHex(plain), direct);
                    xts.encryptUnit(data, tweak);
                    assertEquals(cipher, HEX.formatHex(bytes(data)), "vector " + vector + " encrypt, " + way);
                    xts.decryptUnit(data, tweak);
                    assertEquals(plain, HEX.formatHex(bytes(data)), "vector " + vector + " decrypt, " + way);
                }
            }
        } finally {
            ways.forEach(AesXts::close);
        }
    }

    /**
     * OpenSSL's EVP XTS (through python3-cryptography) must produce the same bytes for every sector,
     * with the masks computed either way (Vector API or scalar; the vector path takes sectors of a
     * multiple of 128 bytes and leaves the others to the scalar one). Sector sizes cover every mask
     * path (scalar: two chains per sector when it has an even number of blocks, one otherwise),
     * sectors that do not divide a batch (48, 528: the batch is cut short), one sector as large as a
     * batch, and requests longer than three batches; tweaks start either just below
     * 2^32 or just below 2^64, where plain64's sector number wraps to 0 as dm-crypt's does.
     */
    @ParameterizedTest(name = "{0}-bit key, {1}-byte sectors, tweak step {2}, tweaks near 2^{3}")
    @CsvSource({"256, 512, 1, 32", "512, 512, 1, 32", "512, 4096, 8, 32", "256, 4096, 8, 32", "512, 4096, 1, 32",
            "512, 32, 1, 32", "512, 48, 1, 32", "256, 528, 1, 32", "512, 65536, 128, 32",
            "512, 512, 1, 64", "512, 4096, 8, 64", "256, 48, 1, 64"})
    @Timeout(120)
    void agreesWithOpenSslByteForByte(int keyBits, int sectorSize, int tweakStep, int near) throws Exception {
        ExternalTool.require("python3");
        String python = "/usr/bin/python3"; // Debian's, which python3-cryptography installs into
        requirePythonCryptography(python);
        Random random = new Random(keyBits * 31L + sectorSize + tweakStep);
        byte[] key = new byte[keyBits / 8];
        random.nextBytes(key);
        int sectors = Math.max(300, 3 * AesXts.BATCH / sectorSize + 7);
        byte[] plain = new byte[sectors * sectorSize];
        random.nextBytes(plain);
        long firstTweak = near == 64
                ? -(long) tweakStep * (sectors / 2) - random.nextInt(7)   // unsigned, just below 2^64: wraps to 0
                : 0xfffffff0L + random.nextInt(1000);                    // crosses the 32-bit boundary
        ByteBuffer ours = ByteBuffer.allocateDirect(plain.length).put(plain).flip();
        ByteBuffer scalar = ByteBuffer.allocateDirect(plain.length).put(plain).flip();
        ByteBuffer inOpenSsl = ByteBuffer.allocateDirect(plain.length).put(plain).flip();
        try (AesXts vector = new AesXts(key, false, true); AesXts notVector = new AesXts(key, false, false);
             AesXts openSsl = AesXts.inOpenSsl(key, false)) {
            vector.encrypt(ours, sectorSize, firstTweak, tweakStep);
            notVector.encrypt(scalar, sectorSize, firstTweak, tweakStep);
            openSsl.encrypt(inOpenSsl, sectorSize, firstTweak, tweakStep);
        }
        Files.write(dir.resolve("plain"), plain);
        Files.write(dir.resolve("key"), key);
        String script = String.join("\n",
                "import sys",
                "from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes",
                "key = open(sys.argv[1], 'rb').read(); data = open(sys.argv[2], 'rb').read()",
                "size, first, step = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])",
                "out = bytearray()",
                "for i in range(len(data) // size):",
                "    tweak = ((first + i * step) % 2**64).to_bytes(16, 'little')",
                "    enc = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()",
                "    out += enc.update(data[i * size:(i + 1) * size]) + enc.finalize()",
                "open(sys.argv[6], 'wb').write(out)");
        Files.writeString(dir.resolve("xts.py"), script);
        Proc.run(60, python, dir.resolve("xts.py").toString(), dir.resolve("key").toString(),
                dir.resolve("plain").toString(), Integer.toString(sectorSize), Long.toUnsignedString(firstTweak),
                Integer.toString(tweakStep), dir.resolve("openssl").toString()).assertOk();
        byte[] theirs = Files.readAllBytes(dir.resolve("openssl"));
        for (ByteBuffer result : new ByteBuffer[] {ours, scalar, inOpenSsl}) {
            byte[] mine = bytes(result.rewind());
            String path = result == ours ? "vector masks" : result == scalar ? "scalar masks" : "OpenSSL's XTS";
            for (int s = 0; s < sectors; s++) {
                int from = s * sectorSize;
                assertArrayEquals(java.util.Arrays.copyOfRange(theirs, from, from + sectorSize),
                        java.util.Arrays.copyOfRange(mine, from, from + sectorSize), path + ", sector " + s);
            }
        }
        try (AesXts vector = new AesXts(key, false, true); AesXts notVector = new AesXts(key, false, false);
             AesXts openSsl = AesXts.inOpenSsl(key, false)) {
            vector.decrypt(ours.rewind(), sectorSize, firstTweak, tweakStep);
            notVector.decrypt(scalar.rewind(), sectorSize, firstTweak, tweakStep);
            openSsl.decrypt(inOpenSsl.rewind(), sectorSize, firstTweak, tweakStep);
        }
        assertArrayEquals(plain, bytes(ours.rewind()), "vector masks, decrypted");
        assertArrayEquals(plain, bytes(scalar.rewind()), "scalar masks, decrypted");
        assertArrayEquals(plain, bytes(inOpenSsl.rewind()), "OpenSSL's XTS, decrypted");
    }

    /**
     * Ciphertext stealing on units of many blocks (the IEEE vectors have one whole block before the
     * partial one, so they never reach the bulk ECB call over the blocks before the last whole one),
     * heap and direct, at a non-zero position, built on AES/ECB and in OpenSSL's XTS, against
     * python3-cryptography's XTS.
     */
    @ParameterizedTest(name = "{0}-byte unit")
    @CsvSource({"33", "47", "4097", "4111", "65535"})
    @Timeout(60)
    void ciphertextStealingOnLongUnitsAgreesWithOpenSsl(int length) throws Exception {
        ExternalTool.require("python3");
        String python = "/usr/bin/python3";
        requirePythonCryptography(python);
        Random random = new Random(length);
        byte[] key = new byte[64];
        random.nextBytes(key);
        byte[] plain = new byte[length];
        random.nextBytes(plain);
        long tweak = 0x1234_5678_9abcL + length;
        Files.write(dir.resolve("plain"), plain);
        Files.write(dir.resolve("key"), key);
        String script = String.join("\n",
                "import sys",
                "from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes",
                "key = open(sys.argv[1], 'rb').read(); data = open(sys.argv[2], 'rb').read()",
                "enc = Cipher(algorithms.AES(key), modes.XTS(int(sys.argv[3]).to_bytes(16, 'little'))).encryptor()",
                "open(sys.argv[4], 'wb').write(enc.update(data) + enc.finalize())");
        Files.writeString(dir.resolve("cts.py"), script);
        Proc.run(60, python, dir.resolve("cts.py").toString(), dir.resolve("key").toString(),
                dir.resolve("plain").toString(), Long.toString(tweak), dir.resolve("openssl").toString()).assertOk();
        byte[] theirs = Files.readAllBytes(dir.resolve("openssl"));
        // Built on the JDK's AES/ECB, and OpenSSL's XTS (which steals ciphertext itself).
        try (AesXts onEcb = new AesXts(key, false, AesEngine.JDK); AesXts inOpenSsl = AesXts.inOpenSsl(key, false)) {
            assertTrue(inOpenSsl.openSslSectors(), "OpenSSL's XTS unusable: " + io.nbdvault.crypto.aes.OpenSslXts.unusableReason());
            for (AesXts xts : List.of(onEcb, inOpenSsl)) {
                String way = xts == onEcb ? "on AES/ECB" : "OpenSSL's XTS";
                for (boolean direct : new boolean[] {false, true}) {
                    byte[] padded = new byte[length + 7];
                    System.arraycopy(plain, 0, padded, 3, length);
                    ByteBuffer all = buffer(padded, direct);
                    ByteBuffer unit = all.duplicate().position(3).limit(3 + length);
                    xts.encryptUnit(unit, tweak);
                    assertArrayEquals(theirs, bytes(all.duplicate().position(3).limit(3 + length)),
                            way + ", encrypt, direct " + direct);
                    xts.decryptUnit(unit.position(3), tweak);
                    assertArrayEquals(padded, bytes(all), way + ", decrypt, direct " + direct);
                }
            }
            // OpenSSL's way, stealing included, needs no AES/ECB: its workers hold no further key schedules.
            assertFalse(inOpenSsl.workersHoldEcbCiphers(), "OpenSSL's XTS workers hold AES/ECB ciphers");
            assertTrue(onEcb.workersHoldEcbCiphers());
        }
    }

    /** The direct T·α^k agrees with k doublings one at a time, across the 64-bit steps it takes. */
    @Test
    void directPowerOfAlphaAgreesWithRepeatedDoubling() {
        Random random = new Random(7);
        long[] direct = new long[2];
        for (int trial = 0; trial < 50; trial++) {
            long lo = random.nextLong();
            long hi = trial % 5 == 0 ? -1L : random.nextLong(); // all-ones top: every reduction bit set
            long l = lo;
            long h = hi;
            for (int k = 0; k <= 2100; k++) {
                Gf128.mulAlphaPow(lo, hi, k, direct);
                assertEquals(l, direct[0], "lo of T·α^" + k);
                assertEquals(h, direct[1], "hi of T·α^" + k);
                long carry = h >> 63;
                h = (h << 1) | (l >>> 63);
                l = (l << 1) ^ (carry & 0x87);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Gf128.mulAlphaPow(1, 0, -1, direct));
    }

    /**
     * Requests of every length from one sector to past two batches, 512- and 4096-byte sectors, heap
     * and direct, each mask path against single sectors encrypted by the other one.
     */
    @ParameterizedTest(name = "{0}-byte sectors, vector masks {1}")
    @CsvSource({"512, true", "4096, true", "128, true", "48, true", "512, false", "4096, false", "48, false"})
    void everyRequestLengthMatchesSectorBySector(int sectorSize, boolean vectorMasks) {
        byte[] key = new byte[64];
        new Random(8).nextBytes(key);
        int maxSectors = 2 * AesXts.BATCH / sectorSize + 3;
        byte[] plain = new byte[maxSectors * sectorSize];
        new Random(9).nextBytes(plain);
        try (AesXts xts = new AesXts(key, false, vectorMasks); AesXts other = new AesXts(key, false, !vectorMasks)) {
            byte[] reference = plain.clone();
            for (int s = 0; s < maxSectors; s++) {
                other.encrypt(ByteBuffer.wrap(reference, s * sectorSize, sectorSize).slice(), sectorSize, 1000 + s, 1);
            }
            int step = sectorSize == 48 ? 97 : 1;
            for (int count = 1; count <= maxSectors; count += (count < 20 ? 1 : step + count / 7)) {
                for (boolean direct : new boolean[] {false, true}) {
                    ByteBuffer b = buffer(java.util.Arrays.copyOf(plain, count * sectorSize), direct);
                    xts.encrypt(b, sectorSize, 1000, 1);
                    assertArrayEquals(java.util.Arrays.copyOf(reference, count * sectorSize), bytes(b), count + " sectors");
                    xts.decrypt(b, sectorSize, 1000, 1);
                    assertArrayEquals(java.util.Arrays.copyOf(plain, count * sectorSize), bytes(b), count + " sectors back");
                }
            }
        }
    }

    /**
     * Run with the module the launcher adds (surefire passes the same add-modules): where the engine
     * is OpenSSL's, OpenSSL's XTS computes the masks (and new instances use it); otherwise the masks
     * take the Vector API path on JDK 25 and later where the CPU has 512-bit vectors, and the scalar
     * one elsewhere. Whichever, the tests above check every path's bytes.
     */
    @Test
    void theVectorPathIsChosenOnJdk25WhereTheCpuHas512BitVectors() {
        assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
                "tests run with --add-modules jdk.incubator.vector, as the launcher runs nbdvault");
        byte[] key = new byte[64];
        new Random(12).nextBytes(key);
        boolean openSsl = AesEngine.current() == AesEngine.OPENSSL && io.nbdvault.crypto.aes.OpenSslXts.usable();
        try (AesXts xts = new AesXts(key)) {
            assertEquals(openSsl, xts.openSslSectors(), "a new instance on the " + AesEngine.describe() + " engine");
        }
        boolean expected = VectorTweakMasks.fitsThisCpu() && Runtime.version().feature() >= io.nbdvault.crypto.VectorApi.SINCE_JDK;
        assertEquals(openSsl ? "openssl" : expected ? "vector" : "scalar", AesXts.maskPath(),
                "JDK " + Runtime.version().feature() + ", preferred vector size "
                        + jdk.incubator.vector.LongVector.SPECIES_PREFERRED.vectorBitSize() + " bits");
    }

    @Test
    void batchesLargerThanOneEcbCallRoundTripAndMatchSectorBySector() {
        byte[] key = new byte[64];
        new Random(1).nextBytes(key);
        byte[] plain = new byte[AesXts.BATCH * 3 + 4096];
        new Random(2).nextBytes(plain);
        try (AesXts xts = new AesXts(key)) {
            ByteBuffer whole = ByteBuffer.wrap(plain.clone());
            xts.encrypt(whole, 4096, 77, 8);
            for (int s = 0; s < plain.length / 4096; s++) {
                ByteBuffer one = ByteBuffer.wrap(java.util.Arrays.copyOfRange(plain, s * 4096, (s + 1) * 4096));
                xts.encrypt(one, 4096, 77 + s * 8L, 8);
                assertArrayEquals(one.array(), java.util.Arrays.copyOfRange(whole.array(), s * 4096, (s + 1) * 4096));
            }
            xts.decrypt(whole.rewind(), 4096, 77, 8);
            assertArrayEquals(plain, whole.array());
        }
    }

    @Test
    void concurrentUseFromManyThreadsStaysCorrect() throws Exception {
        byte[] key = new byte[64];
        new Random(3).nextBytes(key);
        byte[] plain = new byte[64 * 1024];
        new Random(4).nextBytes(plain);
        try (AesXts xts = new AesXts(key)) {
            ByteBuffer reference = ByteBuffer.wrap(plain.clone());
            xts.encrypt(reference, 512, 9, 1);
            for (byte[] out : encryptAtOnce(xts, plain, 512, 9, 1, 8, 64, () -> { })) {
                assertArrayEquals(reference.array(), out);
            }
        }
    }

    /** More threads at once than the pool has slots: the workers that find no slot are dropped, and the output stays right. */
    @Test
    @Timeout(120)
    void moreThreadsThanWorkerSlotsStayCorrect() throws Exception {
        byte[] key = new byte[64];
        new Random(10).nextBytes(key);
        byte[] plain = new byte[8192];
        new Random(11).nextBytes(plain);
        int threads = Math.max(64, 4 * Runtime.getRuntime().availableProcessors()) + 16;
        try (AesXts xts = new AesXts(key)) {
            ByteBuffer reference = ByteBuffer.wrap(plain.clone());
            xts.encrypt(reference, 4096, 5, 8);
            for (byte[] out : encryptAtOnce(xts, plain, 4096, 5, 8, threads, 4 * threads, () -> { })) {
                assertArrayEquals(reference.array(), out);
            }
        }
    }

    /**
     * close() racing with requests: each either fails (the cipher is closed) or encrypts with the
     * real key — never with the zeroed one, which a worker built during close() used to get.
     */
    @Test
    @Timeout(120)
    void closeDuringUseNeverEncryptsWithAZeroedKey() throws Exception {
        byte[] key = new byte[64];
        new Random(12).nextBytes(key);
        byte[] plain = new byte[4096];
        new Random(13).nextBytes(plain);
        ByteBuffer reference = ByteBuffer.wrap(plain.clone());
        try (AesXts once = new AesXts(key)) {
            once.encrypt(reference, 4096, 3, 8);
        }
        for (int round = 0; round < 200; round++) {
            AesXts xts = new AesXts(key);
            for (byte[] out : encryptAtOnce(xts, plain, 4096, 3, 8, 8, 8, xts::close)) {
                if (out != null) {
                    assertArrayEquals(reference.array(), out, "round " + round);
                }
            }
        }
    }

    /**
     * Encrypts copies of {@code plain} in {@code tasks} tasks on {@code threads} threads, released
     * together, running {@code meanwhile} as they start; the outputs in order, null for a task the
     * closed cipher refused.
     */
    static java.util.List<byte[]> encryptAtOnce(AesXts xts, byte[] plain, int sectorSize, long firstTweak, long step,
                                                int threads, int tasks, Runnable meanwhile) throws Exception {
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            var start = new java.util.concurrent.CountDownLatch(1);
            var futures = new java.util.ArrayList<java.util.concurrent.Future<byte[]>>();
            for (int i = 0; i < tasks; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    ByteBuffer b = ByteBuffer.allocateDirect(plain.length).put(plain).flip();
                    try {
                        xts.encrypt(b, sectorSize, firstTweak, step);
                    } catch (IllegalStateException closed) {
                        return null;
                    }
                    return bytes(b.rewind());
                }));
            }
            start.countDown();
            meanwhile.run();
            var outputs = new java.util.ArrayList<byte[]>();
            for (var f : futures) {
                outputs.add(f.get());
            }
            return outputs;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void onlyTheRequestedRangeChanges() {
        byte[] key = new byte[32];
        new Random(5).nextBytes(key);
        byte[] data = new byte[3 * 512];
        ByteBuffer b = ByteBuffer.wrap(data).position(512).limit(1024);
        try (AesXts xts = new AesXts(key)) {
            xts.encrypt(b, 512, 0, 1);
        }
        assertArrayEquals(new byte[512], java.util.Arrays.copyOfRange(data, 0, 512));
        assertArrayEquals(new byte[512], java.util.Arrays.copyOfRange(data, 1024, 1536));
        assertTrue(!java.util.Arrays.equals(new byte[512], java.util.Arrays.copyOfRange(data, 512, 1024)));
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new AesXts(new byte[48]));
        assertThrows(IllegalArgumentException.class, () -> new AesXts(new byte[64]), "equal key halves");
        byte[] key = new byte[64];
        new Random(6).nextBytes(key);
        AesXts xts = new AesXts(key);
        assertThrows(IllegalArgumentException.class, () -> xts.encrypt(ByteBuffer.allocate(700), 512, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> xts.encryptUnit(ByteBuffer.allocate(15), 0));
        xts.close();
        assertThrows(IllegalStateException.class, () -> xts.encrypt(ByteBuffer.allocate(512), 512, 0, 1));
    }

    public static void requirePythonCryptography(String python) {
        Proc.Result r = Proc.run(30, python, "-c", "import cryptography");
        if (r.exitCode() != 0) {
            String message = "python3-cryptography is not installed (needed to compare with OpenSSL's XTS)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            org.junit.jupiter.api.Assumptions.abort(message);
        }
    }

    private static ByteBuffer buffer(byte[] data, boolean direct) {
        return direct ? ByteBuffer.allocateDirect(data.length).put(data).flip() : ByteBuffer.wrap(data.clone());
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
