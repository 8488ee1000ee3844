package io.nbdvault.crypto.xts;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Tweak arithmetic in GF(2^128) as XTS defines it (IEEE 1619: the 128-bit value is little-endian,
 * reduced by x^128 = x^7 + x^2 + x + 1), on a (lo, hi) pair of longs, and little-endian 64-bit access
 * to byte arrays.
 */
final class Gf128 {
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Gf128() {
    }

    static long getLongLE(byte[] a, int offset) {
        return (long) LONG_LE.get(a, offset);
    }

    static void putLongLE(byte[] a, int offset, long value) {
        LONG_LE.set(a, offset, value);
    }

    /**
     * {@code m[from, from + length)} = T·α^j for j = 0, 1, …, each block little-endian: one chain of
     * doublings from T = (lo, hi), each a shift by one bit and a conditional XOR of the reduction.
     */
    static void powersOfAlpha(byte[] m, int from, int length, long lo, long hi) {
        for (int i = from; i < from + length; i += 16) {
            putLongLE(m, i, lo);
            putLongLE(m, i + 8, hi);
            long reduce = (hi >> 63) & 0x87;
            hi = hi + hi + (lo >>> 63);
            lo = (lo + lo) ^ reduce;
        }
    }

    /**
     * (lo, hi)·α^k for any k ≥ 0, into {@code result[0]} (lo) and {@code result[1]} (hi): a shift by k
     * bits, in steps of at most 64, each followed by a carry-less reduction of the bits shifted out.
     * This gives the mask of any block directly instead of through the chain of k doublings.
     */
    static void mulAlphaPow(long lo, long hi, int k, long[] result) {
        if (k < 0) {
            throw new IllegalArgumentException("negative power " + k);
        }
        while (k > 0) {
            int step = Math.min(k, 64);
            long out;           // the top `step` bits, shifted out of the 128-bit value
            long newLo;
            long newHi;
            if (step == 64) {
                out = hi;
                newHi = lo;
                newLo = 0;
            } else {
                out = hi >>> (64 - step);
                newHi = (hi << step) | (lo >>> (64 - step));
                newLo = lo << step;
            }
            // out·x^128 = out·(x^7 + x^2 + x + 1): a product of up to 71 bits, split over lo and hi.
            lo = newLo ^ out ^ (out << 1) ^ (out << 2) ^ (out << 7);
            hi = newHi ^ (out >>> 63) ^ (out >>> 62) ^ (out >>> 57);
            k -= step;
        }
        result[0] = lo;
        result[1] = hi;
    }
}
