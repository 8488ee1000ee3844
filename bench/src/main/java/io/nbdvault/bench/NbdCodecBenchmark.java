package io.nbdvault.bench;

import io.nbdvault.nbd.codec.NbdRequest;
import io.nbdvault.nbd.codec.RequestDecoder;
import io.nbdvault.nbd.codec.ServerEncoder;
import io.nbdvault.nbd.codec.SimpleReply;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The NBD transmission codec without a socket: {@link RequestDecoder} framing a burst of 32
 * pipelined requests (READ headers, or WRITEs with their payload), and {@link ServerEncoder}
 * encoding simple replies that carry a read's data. Requests per second; the payload is sliced,
 * never copied, so the figures hardly depend on the size.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class NbdCodecBenchmark {
    private static final int BURST = 32;

    @Param({"4096", "65536"})
    int size;

    private EmbeddedChannel decoder;
    private EmbeddedChannel encoder;
    private ByteBuf reads;
    private ByteBuf writes;
    private ByteBuf replyData;

    @Setup(Level.Trial)
    public void setUp() {
        decoder = new EmbeddedChannel(new RequestDecoder());
        decoder.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        encoder = new EmbeddedChannel(new ServerEncoder());
        encoder.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        reads = PooledByteBufAllocator.DEFAULT.directBuffer();
        writes = PooledByteBufAllocator.DEFAULT.directBuffer();
        for (int i = 0; i < BURST; i++) {
            header(reads, Nbd.CMD_READ, i);
            header(writes, Nbd.CMD_WRITE, i).writeZero(size);
        }
        replyData = PooledByteBufAllocator.DEFAULT.directBuffer(size).writeZero(size);
    }

    private ByteBuf header(ByteBuf b, int type, int i) {
        return b.writeInt(Nbd.REQUEST_MAGIC).writeShort(0).writeShort(type).writeLong(i)
                .writeLong((long) i * size).writeInt(size);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        decoder.finishAndReleaseAll();
        encoder.finishAndReleaseAll();
        reads.release();
        writes.release();
        replyData.release();
    }

    private long decode(ByteBuf burst) {
        decoder.writeInbound(burst.retainedDuplicate());
        long sum = 0;
        NbdRequest r;
        while ((r = decoder.readInbound()) != null) {
            sum += r.offset();
            r.release();
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long decodeReadRequests() {
        return decode(reads);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long decodeWriteRequests() {
        return decode(writes);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long encodeReadReplies() {
        for (int i = 0; i < BURST; i++) {
            encoder.write(new SimpleReply(0, i, replyData.retainedDuplicate()));
        }
        encoder.flush();
        long bytes = 0;
        ByteBuf b;
        while ((b = encoder.readOutbound()) != null) {
            bytes += b.readableBytes();
            b.release();
        }
        return bytes;
    }
}
