package io.nbdvault.replication;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteOrder;

/**
 * {@link BlockMac}'s two passes around its AES with the Vector API, in the CPU's widest vectors: the
 * XOR of the secret masks into a block's pieces, and Σ, the XOR of the encrypted pieces. The scalar
 * passes move eight bytes per operation; with AVX2 these move 32. On an AMD EPYC (Zen 3, AVX2, no
 * AVX-512) and JDK 25, over 64 KiB in L2: the mask pass 30 GB/s against 12-15, Σ 40-70 against
 * 25-35; the tags of a 64 KiB or 1 MiB request (with OpenSSL's AES, which is now most of their cost)
 * 1.1-1.2× faster per CPU-second, of a 4 KiB one about 1.1×; {@code serve}'s CPU per 1 MiB write
 * 0.92× and 0.97× in two A/Bs.
 *
 * <p>Used where {@link io.nbdvault.crypto.VectorApi#runsWell()} (JDK 25 or later, the module
 * resolved, C2) and the block is a whole number of vector pairs (every block size the format allows,
 * 512 to 4096 bytes, with vectors up to 512 bits); {@link BlockMac} decides once per instance and
 * otherwise runs its scalar passes. Both give the same bytes; tests run this one on JDK 17 too.
 */
final class VectorBlockMac {
    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_PREFERRED;
    private static final int WIDTH = BYTES.length();

    private VectorBlockMac() {
    }

    /**
     * Whether blocks of {@code unit} bytes fit these passes: a whole number of vector pairs, on a
     * little-endian CPU (Σ's halves are read as longs in the format's byte order, the CPU's here).
     */
    static boolean fits(int unit) {
        return WIDTH >= 16 && unit % (2 * WIDTH) == 0 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    }

    /** The widest vectors these passes use, in bits. */
    static int vectorBits() {
        return WIDTH * 8;
    }

    /** XORs {@code masks} (one block's worth) over each of the blocks in {@code in[0, n)}. */
    static void mask(byte[] in, int n, byte[] masks, int unit) {
        for (int k = 0; k < n; k += unit) {
            for (int i = 0; i < unit; i += WIDTH) {
                ByteVector.fromArray(BYTES, in, k + i)
                        .lanewise(VectorOperators.XOR, ByteVector.fromArray(BYTES, masks, i))
                        .intoArray(in, k + i);
            }
        }
    }

    /**
     * Σ of the {@code n} bytes at {@code at}: two accumulators so consecutive XORs do not wait on
     * each other; each vector holds whole 16-byte pieces, so folding its even longs and its odd ones
     * gives Σ's low and high halves, into {@code into[0..1]}.
     */
    static void sigma(byte[] a, int at, int n, long[] into) {
        ByteVector x = ByteVector.zero(BYTES);
        ByteVector y = ByteVector.zero(BYTES);
        for (int i = at, end = at + n; i < end; i += 2 * WIDTH) {
            x = x.lanewise(VectorOperators.XOR, ByteVector.fromArray(BYTES, a, i));
            y = y.lanewise(VectorOperators.XOR, ByteVector.fromArray(BYTES, a, i + WIDTH));
        }
        LongVector longs = x.lanewise(VectorOperators.XOR, y).reinterpretAsLongs();
        long lo = 0;
        long hi = 0;
        for (int j = 0; j < longs.length(); j += 2) {
            lo ^= longs.lane(j);
            hi ^= longs.lane(j + 1);
        }
        into[0] = lo;
        into[1] = hi;
    }
}
