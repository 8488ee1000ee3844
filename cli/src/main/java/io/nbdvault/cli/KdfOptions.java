package io.nbdvault.cli;

import io.nbdvault.crypto.luks.LuksFormatOptions;
import io.nbdvault.crypto.luks.Pbkdf;
import picocli.CommandLine.Option;

import java.time.Duration;

/** Key-slot cost options shared by format and key management, named as in cryptsetup. */
public final class KdfOptions {
    @Option(names = "--pbkdf", paramLabel = "KDF", description = "argon2id (default), argon2i or pbkdf2.",
            converter = PbkdfConverter.class)
    Pbkdf pbkdf = Pbkdf.ARGON2ID;

    @Option(names = "--iter-time", paramLabel = "MS", description = "Target unlock time in milliseconds (default 1000).")
    long iterTimeMillis = 1000;

    @Option(names = "--pbkdf-force-iterations", paramLabel = "N",
            description = "Fixed PBKDF2 iterations or Argon2 time cost instead of calibrating.")
    int forceIterations;

    @Option(names = "--pbkdf-memory", paramLabel = "KIB", description = "Argon2 memory in KiB (default 262144).")
    int memoryKiB;

    @Option(names = "--pbkdf-parallel", paramLabel = "N", description = "Argon2 threads (default: cores, at most 4).")
    int parallel;

    LuksFormatOptions applyTo(LuksFormatOptions base) {
        if (iterTimeMillis <= 0) {
            throw new IllegalArgumentException("--iter-time must be positive");
        }
        return base.withPbkdf(pbkdf).withIterTime(Duration.ofMillis(iterTimeMillis))
                .withCost(forceIterations, memoryKiB, parallel);
    }

    static final class PbkdfConverter implements picocli.CommandLine.ITypeConverter<Pbkdf> {
        @Override
        public Pbkdf convert(String value) throws Exception {
            return Pbkdf.fromLuksName(value.toLowerCase(java.util.Locale.ROOT));
        }
    }
}
