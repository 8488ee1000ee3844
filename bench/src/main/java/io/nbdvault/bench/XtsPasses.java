package io.nbdvault.bench;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Where AesXts's time goes: each pass of one 8 KiB round of 4 KiB sectors (AesXts.Worker.batch) on
 * its own, in ns of this thread's CPU time per round (best of the rounds after warm-up), beside the
 * AES/ECB call they surround. The passes are copies of AesXts's (its worker is private): keep them
 * in step when AesXts changes. The last two rows are not in the main path: one AES block through
 * the JCE (a sector tweak), and an in-place ECB call, which the JCE makes slower by copying its
 * input to a new array first.
 *
 * <p>usage: XtsPasses [MILLIS_PER_ROUND]  (default 200; 7 rounds per pass, the first 2 warm-up)
 */
public final class XtsPasses {
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final int ROUND = 8 * 1024;
    private static final int SECTOR = 4096;

    private final byte[] tweaks = new byte[2 * 16];
    private final byte[] mask = new byte[ROUND];
    private final byte[] buffer = new byte[ROUND];
    private final byte[] out = new byte[ROUND];
    private final ByteBuffer data = ByteBuffer.allocateDirect(ROUND);

    private interface Op {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        long millis = args.length > 0 ? Long.parseLong(args[0]) : 200;
        new XtsPasses().run(millis);
    }

    private void run(long millis) throws Exception {
        byte[] key = new byte[32];
        new Random(1).nextBytes(key);
        new Random(2).nextBytes(tweaks);
        new Random(3).nextBytes(buffer);
        Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding", "SunJCE");
        ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
        String[] names = {"masks (2 chains per sector)", "copy in (direct -> byte[])", "XOR with the masks",
            "AES/ECB, into another array", "copy out (byte[] -> direct)", "one AES block (a sector tweak)",
            "AES/ECB in place (not used)"};
        Op[] ops = {
            this::masks,
            () -> data.get(0, buffer, 0, ROUND),
            () -> xor(buffer, mask, ROUND),
            () -> ecb.update(buffer, 0, ROUND, out, 0),
            () -> data.put(0, out, 0, ROUND),
            () -> ecb.update(tweaks, 0, 16, out, 0),
            () -> ecb.update(out, 0, ROUND, out, 0),
        };
        System.out.printf(Locale.ROOT, "%s, %s, per %d-byte round of %d-byte sectors, ns of thread CPU time%n",
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"), ROUND, SECTOR);
        double main = 0;
        for (int i = 0; i < ops.length; i++) {
            double ns = best(ops[i], millis);
            if (i <= 4) {
                main += i == 2 ? 2 * ns : ns;   // the XOR runs twice per round, before and after ECB
            }
            System.out.printf(Locale.ROOT, "  %-34s %8.1f%n", names[i], ns);
        }
        System.out.printf(Locale.ROOT, "  %-34s %8.1f  (masks + copies + 2 XORs + ECB)%n", "sum of a round's passes", main);
    }

    /** As AesXts.Worker.masks for sectors of an even number of blocks. */
    private void masks() {
        long[] start = new long[2];
        int half = SECTOR / 2;
        for (int s = 0; s < ROUND / SECTOR; s++) {
            long lo = (long) LONG_LE.get(tweaks, s * 16);
            long hi = (long) LONG_LE.get(tweaks, s * 16 + 8);
            mulAlphaPow(lo, hi, half / 16, start);
            long lo2 = start[0];
            long hi2 = start[1];
            int base = s * SECTOR;
            for (int i = base; i < base + half; i += 16) {
                LONG_LE.set(mask, i, lo);
                LONG_LE.set(mask, i + 8, hi);
                LONG_LE.set(mask, i + half, lo2);
                LONG_LE.set(mask, i + half + 8, hi2);
                long reduce = (hi >> 63) & 0x87;
                hi = hi + hi + (lo >>> 63);
                lo = (lo + lo) ^ reduce;
                long reduce2 = (hi2 >> 63) & 0x87;
                hi2 = hi2 + hi2 + (lo2 >>> 63);
                lo2 = (lo2 + lo2) ^ reduce2;
            }
        }
    }

    /** As Gf128.mulAlphaPow. */
    private static void mulAlphaPow(long lo, long hi, int k, long[] result) {
        while (k > 0) {
            int step = Math.min(k, 64);
            long shifted = step == 64 ? hi : hi >>> (64 - step);
            long newHi = step == 64 ? lo : (hi << step) | (lo >>> (64 - step));
            long newLo = step == 64 ? 0 : lo << step;
            lo = newLo ^ shifted ^ (shifted << 1) ^ (shifted << 2) ^ (shifted << 7);
            hi = newHi ^ (shifted >>> 63) ^ (shifted >>> 62) ^ (shifted >>> 57);
            k -= step;
        }
        result[0] = lo;
        result[1] = hi;
    }

    private static void xor(byte[] a, byte[] m, int n) {
        for (int i = 0; i < n; i++) {
            a[i] ^= m[i];
        }
    }

    private static double best(Op op, long millis) throws Exception {
        double[] ns = new double[7];
        for (int r = 0; r < ns.length; r++) {
            long end = System.nanoTime() + millis * 1_000_000L;
            long cpu0 = THREADS.getCurrentThreadCpuTime();
            long runs = 0;
            while (System.nanoTime() < end) {
                for (int k = 0; k < 64; k++) {
                    op.run();
                }
                runs += 64;
            }
            ns[r] = (THREADS.getCurrentThreadCpuTime() - cpu0) / (double) runs;
        }
        return Arrays.stream(ns, 2, ns.length).min().orElseThrow();
    }
}
