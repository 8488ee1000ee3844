package io.nbdvault.bench;

import io.nbdvault.crypto.aes.AesEcb;
import io.nbdvault.crypto.aes.AesEngine;
import io.nbdvault.crypto.xts.AesXts;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * XTS-AES-256 encrypt/decrypt of 4 KiB sectors in requests of 4 KiB, 64 KiB and 1 MiB, in place on direct buffers,
 * against AES/ECB on the same amount of data: the JDK's, and that of the engine AesXts runs on
 * ({@link AesEngine}, the JDK's or OpenSSL's: the ceiling this XTS can reach).
 * Throughput mode, single thread: per-core figures, comparable with `openssl speed -evp aes-256-xts`.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--add-modules", "jdk.incubator.vector"}) // as nbdvault runs
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class XtsBenchmark {
    @Param({"4096", "65536", "1048576"})
    int size;

    private AesXts xts;
    private ByteBuffer data;
    private AesEcb jdkEcb;
    private AesEcb engineEcb;
    private byte[] ecbIn;
    private byte[] ecbOut;
    private long sector;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        byte[] key = new byte[64];
        new Random(1).nextBytes(key);
        xts = new AesXts(key);
        data = ByteBuffer.allocateDirect(size);
        byte[] fill = new byte[size];
        new Random(2).nextBytes(fill);
        data.put(fill).flip();
        jdkEcb = AesEngine.JDK.encrypting(java.util.Arrays.copyOf(key, 32));
        engineEcb = AesEcb.encrypting(java.util.Arrays.copyOf(key, 32));
        ecbIn = fill;
        ecbOut = new byte[size];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        xts.close();
        jdkEcb.close();
        engineEcb.close();
    }

    @Benchmark
    public ByteBuffer xtsEncrypt() {
        data.clear();
        xts.encrypt(data, 4096, sector += 8, 8);
        return data;
    }

    @Benchmark
    public ByteBuffer xtsDecrypt() {
        data.clear();
        xts.decrypt(data, 4096, sector += 8, 8);
        return data;
    }

    @Benchmark
    public byte[] jdkEcbCeiling() {
        jdkEcb.apply(ecbIn, 0, size, ecbOut, 0);
        return ecbOut;
    }

    @Benchmark
    public byte[] engineEcbCeiling() {
        engineEcb.apply(ecbIn, 0, size, ecbOut, 0);
        return ecbOut;
    }
}
