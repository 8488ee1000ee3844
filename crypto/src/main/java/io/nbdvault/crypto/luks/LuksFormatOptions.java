package io.nbdvault.crypto.luks;

import java.time.Duration;

/**
 * How to format a volume or make a key slot. A zero cost field means "calibrate": iterations (or
 * Argon2 time) are measured so that unlocking takes about {@code iterTime} on this machine.
 *
 * @param sectorSize   512 or 4096 (encryption sector)
 * @param pbkdf        key derivation for key slots
 * @param iterTime     target unlock time when calibrating
 * @param iterations   fixed PBKDF2 iterations or Argon2 time cost (0 = calibrate)
 * @param memoryKiB    Argon2 memory (0 = default 256 MiB)
 * @param parallel     Argon2 threads (0 = up to 4, one per core)
 * @param keyBits      volume key size: 512 (AES-256-XTS) or 256 (AES-128-XTS)
 * @param label        header label, may be empty
 */
public record LuksFormatOptions(int sectorSize, Pbkdf pbkdf, Duration iterTime, int iterations, int memoryKiB,
                                int parallel, int keyBits, String label) {

    public static final int DEFAULT_MEMORY_KIB = 256 * 1024;

    public LuksFormatOptions {
        if (sectorSize != 512 && sectorSize != 1024 && sectorSize != 2048 && sectorSize != 4096) {
            throw new IllegalArgumentException("sector size must be 512, 1024, 2048 or 4096");
        }
        if (keyBits != 256 && keyBits != 512) {
            throw new IllegalArgumentException("key size must be 256 or 512 bits");
        }
        if (iterations < 0 || memoryKiB < 0 || parallel < 0) {
            throw new IllegalArgumentException("KDF costs cannot be negative");
        }
    }

    /** Argon2id, about one second to unlock, 512-bit key, 512-byte sectors. */
    public static LuksFormatOptions defaults() {
        return new LuksFormatOptions(512, Pbkdf.ARGON2ID, Duration.ofSeconds(1), 0, 0, 0, 512, "");
    }

    public LuksFormatOptions withSectorSize(int value) {
        return new LuksFormatOptions(value, pbkdf, iterTime, iterations, memoryKiB, parallel, keyBits, label);
    }

    public LuksFormatOptions withPbkdf(Pbkdf value) {
        return new LuksFormatOptions(sectorSize, value, iterTime, iterations, memoryKiB, parallel, keyBits, label);
    }

    public LuksFormatOptions withIterTime(Duration value) {
        return new LuksFormatOptions(sectorSize, pbkdf, value, iterations, memoryKiB, parallel, keyBits, label);
    }

    /** Fixed costs, no calibration (tests, or matching another machine). */
    public LuksFormatOptions withCost(int fixedIterations, int argonMemoryKiB, int argonParallel) {
        return new LuksFormatOptions(sectorSize, pbkdf, iterTime, fixedIterations, argonMemoryKiB, argonParallel,
                keyBits, label);
    }

    public LuksFormatOptions withKeyBits(int value) {
        return new LuksFormatOptions(sectorSize, pbkdf, iterTime, iterations, memoryKiB, parallel, value, label);
    }

    public LuksFormatOptions withLabel(String value) {
        return new LuksFormatOptions(sectorSize, pbkdf, iterTime, iterations, memoryKiB, parallel, keyBits, value);
    }
}
