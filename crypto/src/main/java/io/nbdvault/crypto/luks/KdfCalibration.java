package io.nbdvault.crypto.luks;

import java.security.SecureRandom;

/** Picks KDF costs: fixed ones when given, otherwise measured to take about the target time here. */
final class KdfCalibration {
    private static final int MIN_PBKDF2 = 1000;
    private static final int MIN_ARGON_TIME = 4;

    private KdfCalibration() {
    }

    static Kdf forKeyslot(LuksFormatOptions o, SecureRandom random, int keyLength) {
        byte[] salt = new byte[32];
        random.nextBytes(salt);
        long targetMillis = Math.max(1, o.iterTime().toMillis());
        if (o.pbkdf() == Pbkdf.PBKDF2) {
            int iterations = o.iterations() > 0 ? o.iterations() : pbkdf2Rate(keyLength, targetMillis);
            return new Kdf(Pbkdf.PBKDF2, "sha256", iterations, 0, 1, salt);
        }
        int parallel = o.parallel() > 0 ? o.parallel() : Math.min(4, Runtime.getRuntime().availableProcessors());
        int memory = o.memoryKiB() > 0 ? o.memoryKiB() : LuksFormatOptions.DEFAULT_MEMORY_KIB;
        int time = o.iterations();
        if (time == 0) {
            // Argon2 time cost scales linearly: measure one pass, then scale to the target.
            Kdf probe = new Kdf(o.pbkdf(), null, 1, memory, parallel, salt);
            long start = System.nanoTime();
            probe.derive(new byte[] {1}, keyLength);
            long onePass = Math.max(1, (System.nanoTime() - start) / 1_000_000);
            time = (int) Math.max(MIN_ARGON_TIME, Math.min(Kdf.MAX_ARGON_TIME, targetMillis / onePass));
        }
        return new Kdf(o.pbkdf(), null, time, memory, parallel, salt);
    }

    /** Iterations of PBKDF2-SHA256 that take about {@code targetMillis} here. */
    static int pbkdf2Rate(int keyLength, long targetMillis) {
        byte[] salt = new byte[32];
        int probe = 20_000;
        long start = System.nanoTime();
        new Kdf(Pbkdf.PBKDF2, "sha256", probe, 0, 1, salt).derive(new byte[] {1}, keyLength);
        double perMilli = probe / Math.max(0.001, (System.nanoTime() - start) / 1e6);
        return (int) Math.max(MIN_PBKDF2, Math.min(Kdf.MAX_PBKDF2_ITERATIONS, perMilli * targetMillis));
    }
}
