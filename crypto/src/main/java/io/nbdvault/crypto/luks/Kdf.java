package io.nbdvault.crypto.luks;

import io.nbdvault.crypto.Passphrase;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * Parameters of one key derivation, as stored in a key slot, and the derivation itself
 * (BouncyCastle's Argon2 and PBKDF2).
 */
public record Kdf(Pbkdf type, String hash, int iterations, int memoryKiB, int parallel, byte[] salt) {
    /** Bounds that keep a hostile header from exhausting memory or time before the passphrase is checked. */
    static final int MAX_MEMORY_KIB = 4 * 1024 * 1024;
    static final int MAX_PARALLEL = 16;
    static final int MAX_ARGON_TIME = 1000;
    static final int MAX_PBKDF2_ITERATIONS = 100_000_000;

    public Kdf {
        if (iterations < 1) {
            throw new IllegalArgumentException("KDF needs at least one iteration");
        }
    }

    void validate() throws LuksException {
        if (salt.length < 16 || salt.length > 64) {
            throw new LuksException("KDF salt of " + salt.length + " bytes is not allowed");
        }
        if (type == Pbkdf.PBKDF2) {
            digest(hash);
            if (iterations > MAX_PBKDF2_ITERATIONS) {
                throw new LuksException("PBKDF2 iteration count " + iterations + " is absurd");
            }
        } else if (memoryKiB < 8 * parallel || memoryKiB > MAX_MEMORY_KIB || parallel < 1 || parallel > MAX_PARALLEL
                || iterations > MAX_ARGON_TIME) {
            throw new LuksException("Argon2 cost out of range: time " + iterations + ", memory " + memoryKiB
                    + " KiB, threads " + parallel);
        }
    }

    public byte[] derive(Passphrase passphrase, int length) {
        return passphrase.use(secret -> derive(secret, length));
    }

    byte[] derive(byte[] secret, int length) {
        byte[] out = new byte[length];
        if (type == Pbkdf.PBKDF2) {
            PKCS5S2ParametersGenerator generator = new PKCS5S2ParametersGenerator(digestUnchecked(hash));
            generator.init(secret, salt, iterations);
            KeyParameter key = (KeyParameter) generator.generateDerivedMacParameters(length * 8);
            System.arraycopy(key.getKey(), 0, out, 0, length);
            java.util.Arrays.fill(key.getKey(), (byte) 0);
        } else {
            Argon2Parameters parameters = new Argon2Parameters.Builder(
                    type == Pbkdf.ARGON2ID ? Argon2Parameters.ARGON2_id : Argon2Parameters.ARGON2_i)
                    .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                    .withIterations(iterations).withMemoryAsKB(memoryKiB).withParallelism(parallel)
                    .withSalt(salt).build();
            Argon2BytesGenerator generator = new Argon2BytesGenerator();
            generator.init(parameters);
            generator.generateBytes(secret, out);
        }
        return out;
    }

    static Digest digest(String hash) throws LuksException {
        Digest d = digestOrNull(hash);
        if (d == null) {
            throw new LuksException("unsupported hash '" + hash + "'");
        }
        return d;
    }

    private static Digest digestUnchecked(String hash) {
        Digest d = digestOrNull(hash);
        if (d == null) {
            throw new IllegalArgumentException("unsupported hash '" + hash + "'");
        }
        return d;
    }

    private static Digest digestOrNull(String hash) {
        return switch (hash == null ? "" : hash) {
            case "sha1" -> new SHA1Digest();
            case "sha256" -> new SHA256Digest();
            case "sha512" -> new SHA512Digest();
            default -> null;
        };
    }
}
