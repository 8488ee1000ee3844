package io.nbdvault.crypto.xts;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The first XTS pass over a batch with the Vector API: each block's mask T·α^j computed four blocks
 * to a 512-bit vector, XORed into the data and kept for the pass after AES, in one loop. The scalar
 * masks ({@code AesXts.Worker.masks}) take 7 ALU operations per block on one long pair at a time;
 * here one step advances four blocks with 11 vector operations, and the XOR that was a pass of its
 * own rides along. On a Xeon with AVX-512 and JDK 25 that makes the whole XTS 1.1-1.3× faster.
 *
 * <p>Only used on JDK 25 and later (JDK 17's compiled code has phases where this pass runs 4-5×
 * slower; see {@code AesXts.vectorMasksUsable}), when the JVM resolved {@code jdk.incubator.vector}
 * (the launcher passes {@code --add-modules jdk.incubator.vector}) and the CPU has 512-bit vectors:
 * emulated, or in 256-bit halves, the same code is slower than the scalar masks (measured: 256-bit
 * 1.1-1.15× the scalar time). {@link AesXts} decides; tests also run it on JDK 17 for its bytes.
 *
 * <p>Vector API code falls off cliffs that correctness tests do not see: four chains instead of two
 * (3-4× slower than two, JDK 17 and 25) and per-lane shift counts to build the first vectors (2-3×
 * slower) each ran slower than the scalar masks. Measure any change with bench XtsCpuTime on the
 * JDKs it runs on.
 *
 * <p>Layout: a 512-bit vector holds four blocks as eight longs, lo and hi of each block
 * alternating, little-endian as XTS stores them. Two vectors (eight consecutive blocks) start each
 * sector, from eight masks computed the scalar way; each then advances by α^8 per step, so the two
 * chains of dependent operations overlap.
 */
final class VectorTweakMasks {
    private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_512;
    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_512;
    private static final int VECTOR_BYTES = 64;
    private static final int BLOCK = 16;
    /** Blocks each vector advances per step: two vectors of four blocks. */
    private static final int STEP = 2 * VECTOR_BYTES / BLOCK;
    /** Sector sizes this pass handles: whole steps of two vectors. */
    static final int SECTOR_MULTIPLE = 2 * VECTOR_BYTES;
    /** Each lane takes its partner's carry: lo gets hi's, hi gets lo's. */
    private static final VectorShuffle<Long> PARTNER = VectorShuffle.fromOp(LONGS, i -> i ^ 1);
    /** All ones in the lo lanes, where the bits carried out of hi must be reduced. */
    private static final LongVector LO_LANES = LongVector.fromArray(LONGS, new long[] {-1, 0, -1, 0, -1, 0, -1, 0}, 0);

    private VectorTweakMasks() {
    }

    /** Whether this CPU and JVM run 512-bit vectors natively, where this pass beats the scalar one. */
    static boolean fitsThisCpu() {
        return LongVector.SPECIES_PREFERRED.vectorBitSize() >= LONGS.vectorBitSize();
    }

    /**
     * For {@code n} bytes of whole sectors of {@code sectorSize} (a multiple of
     * {@link #SECTOR_MULTIPLE}): {@code mask[0, n)} = every block's T·α^j and
     * {@code buffer[0, n) ^= mask}, each sector's T read from {@code tweaks} from {@code tweakOffset}.
     */
    static void maskAndXor(byte[] buffer, byte[] mask, byte[] tweaks, int tweakOffset, int n, int sectorSize) {
        int t = tweakOffset;
        for (int base = 0; base < n; base += sectorSize, t += BLOCK) {
            // T·α^0 … T·α^7 the scalar way: the two chains' first vectors.
            Gf128.powersOfAlpha(mask, base, STEP * BLOCK, Gf128.getLongLE(tweaks, t), Gf128.getLongLE(tweaks, t + 8));
            LongVector m0 = load(mask, base);
            LongVector m1 = load(mask, base + VECTOR_BYTES);
            for (int i = base; i < base + sectorSize; i += 2 * VECTOR_BYTES) {
                store(load(buffer, i).lanewise(VectorOperators.XOR, m0), buffer, i);
                store(load(buffer, i + VECTOR_BYTES).lanewise(VectorOperators.XOR, m1), buffer, i + VECTOR_BYTES);
                store(m0, mask, i);
                store(m1, mask, i + VECTOR_BYTES);
                m0 = timesAlpha8(m0);
                m1 = timesAlpha8(m1);
            }
        }
    }

    /**
     * Every block in {@code v} times α^8: the 128-bit value shifted left by 8 bits. hi takes the top
     * 8 bits of lo; the top 8 bits of hi, c, fall off and come back into lo as c·(x^7 + x^2 + x + 1),
     * which is c ^ c<<1 ^ c<<2 ^ c<<7 and fits in lo's low 15 bits.
     */
    private static LongVector timesAlpha8(LongVector v) {
        LongVector shifted = v.lanewise(VectorOperators.LSHL, STEP);
        LongVector carried = v.lanewise(VectorOperators.LSHR, 64 - STEP).rearrange(PARTNER);
        LongVector reduced = carried.and(LO_LANES);
        return shifted.lanewise(VectorOperators.XOR, carried)
                .lanewise(VectorOperators.XOR, reduced.lanewise(VectorOperators.LSHL, 1))
                .lanewise(VectorOperators.XOR, reduced.lanewise(VectorOperators.LSHL, 2))
                .lanewise(VectorOperators.XOR, reduced.lanewise(VectorOperators.LSHL, 7));
    }

    private static LongVector load(byte[] a, int offset) {
        return ByteVector.fromArray(BYTES, a, offset).reinterpretAsLongs();
    }

    private static void store(LongVector v, byte[] a, int offset) {
        v.reinterpretAsBytes().intoArray(a, offset);
    }
}
