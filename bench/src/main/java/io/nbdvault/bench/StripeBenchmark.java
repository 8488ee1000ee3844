package io.nbdvault.bench;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.replication.StripedDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * RAID-0 address mapping: {@link StripedDevice} over five in-memory groups (the founding lab's
 * five mirror groups), 64 KiB chunks, reads and writes of 4 KiB and 1 MiB at offsets walking the
 * volume. The memory devices copy the bytes, so the figures are the stripe layer plus a memcpy:
 * compare them with {@code direct*}, the same I/O on one memory device without the stripe.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class StripeBenchmark {
    private static final long VOLUME = 64L << 20;
    private static final int GROUPS = 5;
    private static final int CHUNK = 64 * 1024;

    @Param({"4096", "1048576"})
    int size;

    private StripedDevice striped;
    private BlockDevice single;
    private ByteBuf data;
    private long offset;

    @Setup(Level.Trial)
    public void setUp() {
        List<BlockDevice> groups = new ArrayList<>();
        for (int g = 0; g < GROUPS; g++) {
            groups.add(new MemoryDevice(VOLUME / GROUPS));
        }
        striped = new StripedDevice(groups, CHUNK);
        single = new MemoryDevice(VOLUME);
        data = Unpooled.directBuffer(size).writeZero(size);
        // Touch every page once, so the benchmark measures overwrites, not first allocations.
        for (long o = 0; o + size <= striped.size(); o += size) {
            striped.write(o, data.duplicate(), 0).join();
            single.write(o, data.duplicate(), 0).join();
        }
    }

    private long next() {
        offset += size + 4096L;           // not chunk-aligned: 1 MiB requests span 17 or 18 chunks
        if (offset + size > striped.size()) {
            offset = 0;
        }
        return offset;
    }

    @Benchmark
    public int stripedRead() {
        ByteBuf b = striped.read(next(), size).join();
        int n = b.readableBytes();
        b.release();
        return n;
    }

    @Benchmark
    public Object stripedWrite() {
        return striped.write(next(), data.duplicate(), 0).join();
    }

    @Benchmark
    public int directRead() {
        ByteBuf b = single.read(next(), size).join();
        int n = b.readableBytes();
        b.release();
        return n;
    }

    @Benchmark
    public Object directWrite() {
        return single.write(next(), data.duplicate(), 0).join();
    }
}
