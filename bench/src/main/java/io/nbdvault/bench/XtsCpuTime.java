package io.nbdvault.bench;

import io.nbdvault.crypto.aes.AesEcb;
import io.nbdvault.crypto.aes.AesEngine;
import io.nbdvault.crypto.xts.AesXts;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * AES-XTS-256 per core in bytes per second of this thread's CPU time, the unit `openssl speed`
 * reports by default: on a shared machine, time spent waiting for a core is not counted against
 * either side, so the ratio holds where wall-clock figures (JMH's) swing with the neighbours' load.
 * Encrypt, decrypt, the JDK's AES/ECB and the AES/ECB of the engine AesXts runs on ({@link AesEngine}:
 * the ceiling of the XTS here, the JDK's or OpenSSL's) run in interleaved rounds; the median round
 * is reported.
 *
 * <p>Each row names the mask path AesXts took ("vector" needs {@code --add-modules jdk.incubator.vector}).
 *
 * <p>usage: XtsCpuTime SIZES ROUNDS MILLIS_PER_ROUND — prints one JSON array.
 */
public final class XtsCpuTime {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private interface Op {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int[] sizes = Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = Integer.parseInt(args[1]);
        long millis = Long.parseLong(args[2]);
        byte[] key = new byte[64];
        new Random(1).nextBytes(key);
        List<String> rows = new ArrayList<>();
        try (AesXts xts = new AesXts(key); AesEcb jdkEcb = AesEngine.JDK.encrypting(Arrays.copyOf(key, 32));
             AesEcb engineEcb = AesEcb.encrypting(Arrays.copyOf(key, 32))) {
            for (int size : sizes) {
                ByteBuffer data = ByteBuffer.allocateDirect(size);
                byte[] plain = new byte[size];
                new Random(2).nextBytes(plain);
                data.put(plain).flip();
                byte[] ecbOut = new byte[size];
                long[] sector = {0};
                String[] names = {"xtsEncrypt", "xtsDecrypt", "jdkEcbCeiling", "engineEcbCeiling"};
                Op[] ops = {
                    () -> xts.encrypt(data.clear(), 4096, sector[0] += 8, 8),
                    () -> xts.decrypt(data.clear(), 4096, sector[0] += 8, 8),
                    () -> jdkEcb.apply(plain, 0, size, ecbOut, 0),
                    () -> engineEcb.apply(plain, 0, size, ecbOut, 0),
                };
                for (int w = 0; w < 3; w++) {          // warm-up: let C2 compile every path
                    for (Op op : ops) {
                        perCpuSecond(op, size, millis);
                    }
                }
                double[][] samples = new double[ops.length][rounds];
                for (int r = 0; r < rounds; r++) {
                    for (int i = 0; i < ops.length; i++) {
                        samples[i][r] = perCpuSecond(ops[i], size, millis);
                    }
                }
                for (int i = 0; i < ops.length; i++) {
                    double[] s = samples[i].clone();
                    Arrays.sort(s);
                    rows.add(String.format(Locale.ROOT, "{\"benchmark\": \"%s\", \"size\": %d, \"maskPath\": \"%s\", \"aesEngine\": \"%s\", \"bytesPerCpuSecond\": %.0f, \"samples\": %s}",
                            names[i], size, AesXts.maskPath(), AesEngine.current().label(), s[s.length / 2], Arrays.toString(samples[i])));
                }
            }
        }
        System.out.println("[\n  " + String.join(",\n  ", rows) + "\n]");
    }

    private static double perCpuSecond(Op op, int size, long millis) throws Exception {
        long wallEnd = System.nanoTime() + millis * 1_000_000L;
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long ops = 0;
        while (System.nanoTime() < wallEnd) {
            for (int k = 0; k < 8; k++) {
                op.run();
            }
            ops += 8;
        }
        return ops * (double) size * 1e9 / (THREADS.getCurrentThreadCpuTime() - cpu0);
    }
}
