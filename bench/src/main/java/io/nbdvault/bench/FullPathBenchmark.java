package io.nbdvault.bench;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.crypto.EncryptedDevice;
import io.nbdvault.crypto.xts.AesXts;
import io.nbdvault.nbd.codec.NbdRequest;
import io.nbdvault.nbd.codec.RequestDecoder;
import io.nbdvault.nbd.codec.ServerEncoder;
import io.nbdvault.nbd.codec.SimpleReply;
import io.nbdvault.nbd.protocol.Nbd;
import io.nbdvault.replication.ArrayGeometry;
import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
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

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The whole stack in one process, without a network: NBD request decoding → AES-XTS (LUKS-style
 * {@link EncryptedDevice}, 4 KiB sectors) → a replicated array of one group of three in-memory
 * copies (write-intent bitmap included) → and, for reads, the reply encoder. One request at a time:
 * the ceiling of the stack per request stream, which fio over NBD sockets can only approach.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--add-modules", "jdk.incubator.vector"}) // as nbdvault runs
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class FullPathBenchmark {
    private static final long VOLUME = 64L << 20;

    @Param({"4096", "1048576"})
    int size;

    private ReplicatedArray array;
    private AesXts cipher;
    private BlockDevice encrypted;
    private EmbeddedChannel decoder;
    private EmbeddedChannel encoder;
    private ByteBuf writeRequest;
    private long offset;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        ArrayGeometry geometry = ArrayGeometry.fitting(1, 3, 64 * 1024, VOLUME);
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            members.add(new Member("memory" + i, new MemoryDevice(geometry.memberSize())));
        }
        array = ReplicatedArray.create(members, geometry, ArrayOptions.defaults());
        byte[] key = new byte[64];
        new Random(1).nextBytes(key);
        cipher = new AesXts(key);
        BlockDevice volume = array.volume();
        encrypted = new EncryptedDevice(volume, 0, volume.size() / 4096 * 4096, cipher, 4096, 0);
        decoder = new EmbeddedChannel(new RequestDecoder());
        decoder.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        encoder = new EmbeddedChannel(new ServerEncoder());
        encoder.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        writeRequest = PooledByteBufAllocator.DEFAULT.directBuffer(28 + size);
        writeRequest.writeInt(Nbd.REQUEST_MAGIC).writeShort(0).writeShort(Nbd.CMD_WRITE).writeLong(1)
                .writeLong(0).writeInt(size);
        byte[] payload = new byte[size];
        new Random(2).nextBytes(payload);
        writeRequest.writeBytes(payload);
        // Write the volume once: the benchmark overwrites, as on a used disk.
        for (long o = 0; o + size <= encrypted.size(); o += size) {
            encrypted.write(o, writeRequest.retainedSlice(28, size), 0).thenRun(() -> { }).join();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        decoder.finishAndReleaseAll();
        encoder.finishAndReleaseAll();
        writeRequest.release();
        array.close();
        cipher.close();
    }

    private long next() {
        offset += size;
        if (offset + size > encrypted.size()) {
            offset = 0;
        }
        return offset;
    }

    @Benchmark
    public Object write() {
        decoder.writeInbound(writeRequest.retainedDuplicate());
        NbdRequest r = decoder.readInbound();
        try {
            return encrypted.write(next(), r.payload(), 0).join();
        } finally {
            r.release();
        }
    }

    @Benchmark
    public long read() {
        ByteBuf data = encrypted.read(next(), size).join();
        encoder.writeAndFlush(new SimpleReply(0, 1, data));
        long bytes = 0;
        ByteBuf b;
        while ((b = encoder.readOutbound()) != null) {
            bytes += b.readableBytes();
            b.release();
        }
        return bytes;
    }
}
