package io.nbdvault.crypto.aes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which bulk AES this JVM uses, decided once: the JDK's where HotSpot compiles AES/ECB to its wide
 * stub (x86 with AVX-512, VAES, VL and DQ), OpenSSL's libcrypto elsewhere when it can be loaded,
 * else the JDK's. {@code -Dnbdvault.aes=jdk} or {@code openssl} insists on one ({@code openssl}
 * then fails every use, with the reason, if libcrypto cannot be loaded); {@code auto} is the default.
 *
 * <p>Why it matters: AES-XTS and the integrity MAC each run one AES call over every byte of a
 * request. Where the JDK lacks its wide stub, each 16-byte block is a call to the one-block AES-NI
 * stub: 1.2 GB/s per core on an AMD EPYC (Zen 3, AVX2), a quarter of what the same core does with
 * eight blocks in flight, and a third of a 1 MiB write's server CPU on that machine. The JDK 17 to
 * 25 generate that stub only with AVX-512 (later JDKs may add an AVX2 one: set {@code jdk} to
 * compare).
 */
public enum AesEngine {
    JDK {
        @Override
        AesEcb ecb(byte[] key, boolean encrypt) {
            return new JdkAesEcb(key, encrypt);
        }
    },
    OPENSSL {
        @Override
        AesEcb ecb(byte[] key, boolean encrypt) {
            return new OpenSslAesEcb(Choice.libCrypto(), key, encrypt);
        }
    };

    abstract AesEcb ecb(byte[] key, boolean encrypt);

    /** This JVM's engine; throws IllegalStateException when the one insisted on is unavailable. */
    public static AesEngine current() {
        Choice c = Choice.MADE;
        if (c.engine == null) {
            throw new IllegalStateException(c.reason);
        }
        return c.engine;
    }

    /** The engine and why, for {@code status} and the benchmarks: "openssl: OpenSSL 3.0.19 ..., as ...". */
    public static String describe() {
        Choice c = Choice.MADE;
        return (c.engine == null ? "unavailable" : c.engine.label()) + ": " + c.reason;
    }

    /** "jdk" or "openssl", as {@code -Dnbdvault.aes} takes it. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * An AES/ECB of this engine, whichever this JVM chose: for AesXts, which is given its engine,
     * and for tests and benchmarks that compare the engines.
     */
    public AesEcb encrypting(byte[] key) {
        return ecb(key, true);
    }

    public AesEcb decrypting(byte[] key) {
        return ecb(key, false);
    }

    /** Whether OpenSSL's libcrypto could be loaded (the reason when not: {@link #describe()}). */
    public static boolean openSslAvailable() {
        return Choice.LIB.lib() != null;
    }

    static void checkKey(byte[] key) {
        if (key.length != 16 && key.length != 24 && key.length != 32) {
            throw new IllegalArgumentException("an AES key has 128, 192 or 256 bits, not " + key.length * 8);
        }
    }

    /**
     * The checks every engine makes before a call, so that both refuse the same calls the same
     * way: whole blocks, both ranges inside their arrays, the cipher not closed.
     */
    static void checkCall(boolean closed, byte[] in, int inAt, int length, byte[] out, int outAt) {
        if (length < 0 || length % AesEcb.BLOCK != 0) {
            throw new IllegalArgumentException("AES/ECB takes whole 16-byte blocks, not " + length + " bytes");
        }
        if (closed) {
            throw new IllegalStateException("cipher is closed");
        }
        if (inAt < 0 || outAt < 0 || inAt > in.length - length || outAt > out.length - length) {
            throw new IndexOutOfBoundsException(length + " bytes at " + inAt + " of " + in.length + " into "
                    + outAt + " of " + out.length);
        }
    }

    /** The decision, made on first use. */
    static final class Choice {
        static final Loaded LIB = Loaded.attempt();
        static final Choice MADE = choose(System.getProperty("nbdvault.aes", "auto"));

        final AesEngine engine;
        final String reason;

        Choice(AesEngine engine, String reason) {
            this.engine = engine;
            this.reason = reason;
        }

        static LibCrypto libCrypto() {
            if (LIB.lib() == null) {
                throw new IllegalStateException("OpenSSL's libcrypto is not available: " + LIB.error());
            }
            return LIB.lib();
        }

        static Choice choose(String wanted) {
            switch (wanted.toLowerCase(Locale.ROOT)) {
                case "jdk":
                    return new Choice(JDK, "the JDK's AES/ECB (-Dnbdvault.aes=jdk)");
                case "openssl":
                    return LIB.lib() != null ? new Choice(OPENSSL, LIB.version() + " (-Dnbdvault.aes=openssl)")
                            : new Choice(null, "-Dnbdvault.aes=openssl, but OpenSSL's libcrypto is not available: " + LIB.error());
                case "auto":
                    break;
                default:
                    return new Choice(null, "-Dnbdvault.aes must be auto, jdk or openssl, not " + wanted);
            }
            String wide = jdkWideStub();
            if (wide != null) {
                return new Choice(JDK, "the JDK's AES/ECB, which HotSpot runs " + wide);
            }
            if (LIB.lib() == null) {
                return new Choice(JDK, "the JDK's AES/ECB, one block per call on this CPU (OpenSSL's libcrypto is not available: "
                        + LIB.error() + ")");
            }
            return new Choice(OPENSSL, LIB.version() + ", as the JDK's AES/ECB runs one block per call on this CPU (no AVX-512 VAES)");
        }

        /**
         * How HotSpot runs AES/ECB many blocks at a time here, or null if it does not: its x86 stub
         * needs VAES with AVX-512 VL and DQ, and UseAVX 3 (HotSpot lowers it on some CPUs).
         */
        static String jdkWideStub() {
            String arch = System.getProperty("os.arch", "");
            if (!arch.equals("amd64") && !arch.equals("x86_64")) {
                return null;
            }
            Set<String> flags = cpuFlags();
            if (!flags.containsAll(Set.of("avx512f", "avx512vl", "avx512dq", "vaes"))) {
                return null;
            }
            try {
                com.sun.management.HotSpotDiagnosticMXBean vm = java.lang.management.ManagementFactory
                        .getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
                if (Integer.parseInt(vm.getVMOption("UseAVX").getValue()) < 3
                        || !Boolean.parseBoolean(vm.getVMOption("UseAESIntrinsics").getValue())) {
                    return null;
                }
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
            return "16 blocks at a time with AVX-512 VAES";
        }

        static Set<String> cpuFlags() {
            try {
                return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                        .filter(l -> l.startsWith("flags")).findFirst()
                        .map(l -> Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+")).collect(Collectors.toSet()))
                        .orElse(Set.of());
            } catch (IOException | RuntimeException e) {
                return Set.of();
            }
        }
    }

    /** libcrypto, loaded once, with its version text, or null and why not. */
    private record Loaded(LibCrypto lib, String version, String error) {
        static Loaded attempt() {
            try {
                LibCrypto lib = LibCrypto.load();
                String version = lib.OpenSSL_version(0);
                return new Loaded(lib, version == null ? "OpenSSL" : version, null);
            } catch (LinkageError | RuntimeException e) {
                return new Loaded(null, null, String.valueOf(e.getMessage()));
            }
        }
    }
}
