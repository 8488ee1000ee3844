package io.nbdvault.crypto.xts;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Little-endian 64-bit access to byte arrays, for tweak arithmetic in GF(2^128). */
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
}
