package io.nbdvault.bench.chaos;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.transport.TransportContext;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.zip.CRC32C;

/**
 * The chaos report's workload: stamped blocks written with FUA over NBD, a journal of which were
 * acknowledged, and a verification that every block holds its last acknowledged generation or a
 * later one that was in flight (or failed) when the run ended.
 *
 * <p>A block is {@value #BLOCK} bytes: magic, run id, its own offset, its generation, a payload
 * derived from those, and a CRC32C of all that. At most one write per block is in flight, so for
 * each block the acceptable generations are exactly [last acknowledged, last issued]. Reads during
 * the run are checked the same way (a read must not return a generation older than one
 * acknowledged before the read was issued: a stale copy served a read).
 *
 * <pre>
 * write  --uri URI --journal FILE [--blocks N] [--depth D] [--iops N] [--read-percent P]
 *        [--seconds S] [--until-file F] [--ready-file R]
 *                                          prints a JSON summary; the journal is written at the end;
 *                                          R is created once 50 writes were acknowledged
 * verify --uri URI --journal FILE          prints {"checked":..,"lost":..,"corrupt":..,"readErrors":..}
 * </pre>
 * Exit status: 0 when the run (or the verification) found no lost or corrupt block, 1 otherwise.
 */
public final class StampedWorkload {
    static final int BLOCK = 4096;
    static final long MAGIC = 0x4e42445643484153L; // "NBDVCHAS"
    private static final int CRC_AT = BLOCK - 8;
    private static final long READY_AFTER = 50;

    private StampedWorkload() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: StampedWorkload write|verify --uri URI --journal FILE [options]");
            System.exit(2);
        }
        Options o = Options.parse(args);
        int code = switch (args[0]) {
            case "write" -> write(o);
            case "verify" -> verify(o);
            default -> {
                System.err.println("unknown command " + args[0]);
                yield 2;
            }
        };
        System.exit(code);
    }

    record Options(String uri, Path journal, int blocks, int depth, int iops, int readPercent, double seconds,
                   Path untilFile, Path readyFile, long seed) {
        static Options parse(String[] args) {
            String uri = null;
            Path journal = null;
            int blocks = 4096;
            int depth = 8;
            int iops = 0;
            int readPercent = 20;
            double seconds = 3600;
            Path until = null;
            Path ready = null;
            long seed = System.nanoTime();
            for (int i = 1; i < args.length; i++) {
                String v = i + 1 < args.length ? args[i + 1] : null;
                switch (args[i]) {
                    case "--uri" -> uri = v;
                    case "--journal" -> journal = Path.of(v);
                    case "--blocks" -> blocks = Integer.parseInt(v);
                    case "--depth" -> depth = Integer.parseInt(v);
                    case "--iops" -> iops = Integer.parseInt(v);
                    case "--read-percent" -> readPercent = Integer.parseInt(v);
                    case "--seconds" -> seconds = Double.parseDouble(v);
                    case "--until-file" -> until = Path.of(v);
                    case "--ready-file" -> ready = Path.of(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
                i++;
            }
            if (uri == null || journal == null) {
                throw new IllegalArgumentException("--uri and --journal are required");
            }
            return new Options(uri, journal, blocks, depth, iops, readPercent, seconds, until, ready, seed);
        }
    }

    /** Stamps of one block as the workload saw them: acknowledged and issued generations. */
    static final class Journal {
        final long runId;
        final int blocks;
        final AtomicLongArray acked;
        final AtomicLongArray issued;

        Journal(long runId, int blocks) {
            this.runId = runId;
            this.blocks = blocks;
            this.acked = new AtomicLongArray(blocks);
            this.issued = new AtomicLongArray(blocks);
        }

        void save(Path file) throws IOException {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (BufferedWriter w = Files.newBufferedWriter(tmp)) {
                w.write("stamped-journal " + runId + " " + blocks + "\n");
                for (int b = 0; b < blocks; b++) {
                    if (issued.get(b) > 0) {
                        w.write(b + " " + acked.get(b) + " " + issued.get(b) + "\n");
                    }
                }
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }

        static Journal load(Path file) throws IOException {
            try (BufferedReader r = Files.newBufferedReader(file)) {
                String[] head = r.readLine().split(" ");
                Journal j = new Journal(Long.parseLong(head[1]), Integer.parseInt(head[2]));
                String line;
                while ((line = r.readLine()) != null) {
                    String[] f = line.split(" ");
                    int b = Integer.parseInt(f[0]);
                    j.acked.set(b, Long.parseLong(f[1]));
                    j.issued.set(b, Long.parseLong(f[2]));
                }
                return j;
            }
        }
    }

    static void stamp(ByteBuf buf, long runId, long offset, long generation) {
        int start = buf.writerIndex();
        buf.writeLong(MAGIC).writeLong(runId).writeLong(offset).writeLong(generation);
        long x = runId ^ (offset * 0x9E3779B97F4A7C15L) ^ (generation * 0xC2B2AE3D27D4EB4FL) | 1;
        while (buf.writerIndex() - start < CRC_AT) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            buf.writeLong(x);
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.nioBuffer(start, CRC_AT));
        buf.writeLong(crc.getValue());
    }

    /** What a block read back holds: a generation of this run, 0 (not written by this run), or -1 (corrupt). */
    static long generation(ByteBuf buf, int at, long runId, long offset) {
        if (buf.getLong(at) != MAGIC || buf.getLong(at + 8) != runId) {
            return 0;
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.nioBuffer(at, CRC_AT));
        if (crc.getValue() != buf.getLong(at + CRC_AT) || buf.getLong(at + 16) != offset) {
            return -1;
        }
        return buf.getLong(at + 24);
    }

    /** Opens the volume, trying again for up to a minute (the server may still be starting). */
    private static BlockDevice open(TransportContext ctx, String uri) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                return ctx.open(uri).get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    private static TransportContext context() {
        // Long request deadline: the server under test queues requests through an outage (--queue-timeout).
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(120))
                .withConnections(1), p -> null);
    }

    static int write(Options o) throws Exception {
        SplittableRandom random = new SplittableRandom(o.seed);
        Journal j = new Journal(random.nextLong(), o.blocks);
        AtomicIntegerArray busy = new AtomicIntegerArray(o.blocks);
        AtomicLong writes = new AtomicLong();
        AtomicLong acks = new AtomicLong();
        AtomicLong writeErrors = new AtomicLong();
        AtomicLong reads = new AtomicLong();
        AtomicLong readErrors = new AtomicLong();
        AtomicLong staleReads = new AtomicLong();
        AtomicLong lastError = new AtomicLong();
        Semaphore slots = new Semaphore(o.depth);
        long started = System.nanoTime();
        long deadline = started + (long) (o.seconds * 1e9);
        try (TransportContext ctx = context()) {
            BlockDevice dev = open(ctx, o.uri);
            if (dev.size() < (long) o.blocks * BLOCK) {
                throw new IllegalArgumentException("the volume (" + dev.size() + " bytes) is smaller than " + o.blocks + " blocks");
            }
            long issuedOps = 0;
            while (System.nanoTime() < deadline && (o.untilFile == null || !Files.exists(o.untilFile))) {
                if (!slots.tryAcquire(50, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                if (o.iops > 0) {
                    long due = started + issuedOps * 1_000_000_000L / o.iops;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
                // After an error (the server gone, say) pause a little instead of spinning on failures.
                long sinceError = System.nanoTime() - lastError.get();
                if (lastError.get() != 0 && sinceError < 20_000_000L) {
                    TimeUnit.NANOSECONDS.sleep(20_000_000L - sinceError);
                }
                int b;
                do {
                    b = random.nextInt(o.blocks);
                } while (!busy.compareAndSet(b, 0, 1));
                int block = b;
                long offset = (long) block * BLOCK;
                issuedOps++;
                CompletableFuture<?> op;
                if (random.nextInt(100) < o.readPercent) {
                    reads.incrementAndGet();
                    long ackedBefore = j.acked.get(block);
                    long issuedBefore = j.issued.get(block);
                    op = dev.read(offset, BLOCK).handle((buf, error) -> {
                        if (error != null) {
                            readErrors.incrementAndGet();
                            lastError.set(System.nanoTime());
                        } else {
                            try {
                                long g = generation(buf, buf.readerIndex(), j.runId, offset);
                                // No write to this block is in flight (busy), so it must hold exactly what was issued last,
                                // or, if that write failed, an older one no older than the last acknowledged.
                                if (g < 0 || g < ackedBefore || g > issuedBefore) {
                                    staleReads.incrementAndGet();
                                    System.err.println("read of block " + block + " returned generation " + g
                                            + "; acknowledged " + ackedBefore + ", issued " + issuedBefore);
                                }
                            } finally {
                                buf.release();
                            }
                        }
                        return null;
                    });
                } else {
                    long gen = j.issued.incrementAndGet(block);
                    writes.incrementAndGet();
                    ByteBuf data = Unpooled.buffer(BLOCK);
                    stamp(data, j.runId, offset, gen);
                    op = dev.write(offset, data, WriteFlags.FUA).handle((ok, error) -> {
                        data.release();
                        if (error != null) {
                            writeErrors.incrementAndGet();
                            lastError.set(System.nanoTime());
                        } else {
                            j.acked.accumulateAndGet(block, gen, Math::max);
                            if (acks.incrementAndGet() == READY_AFTER && o.readyFile != null) {
                                try {
                                    Files.writeString(o.readyFile, "");
                                } catch (IOException e) {
                                    throw new java.io.UncheckedIOException(e);
                                }
                            }
                        }
                        return null;
                    });
                }
                op.whenComplete((x, e) -> {
                    busy.set(block, 0);
                    slots.release();
                });
            }
            // Let what is in flight settle (acknowledged or failed) before the journal is written.
            if (!slots.tryAcquire(o.depth, 150, TimeUnit.SECONDS)) {
                System.err.println("requests still in flight after 150 s; they count as unacknowledged");
            }
            j.save(o.journal);
            dev.close();
        }
        double secs = (System.nanoTime() - started) / 1e9;
        System.out.printf("{\"writes\":%d,\"acked\":%d,\"writeErrors\":%d,\"reads\":%d,\"readErrors\":%d,"
                        + "\"staleReads\":%d,\"seconds\":%.1f}%n", writes.get(), acks.get(), writeErrors.get(), reads.get(),
                readErrors.get(), staleReads.get(), secs);
        return staleReads.get() == 0 ? 0 : 1;
    }

    static int verify(Options o) throws Exception {
        Journal j = Journal.load(o.journal);
        final int batch = 64;
        long lost = 0;
        long corrupt = 0;
        long readErrors = 0;
        long checked = 0;
        try (TransportContext ctx = context()) {
            BlockDevice dev = open(ctx, o.uri);
            for (int first = 0; first < j.blocks; first += batch) {
                int n = Math.min(batch, j.blocks - first);
                ByteBuf buf = null;
                for (int attempt = 0; attempt < 5 && buf == null; attempt++) {
                    try {
                        buf = dev.read((long) first * BLOCK, n * BLOCK).get(150, TimeUnit.SECONDS);
                    } catch (java.util.concurrent.ExecutionException e) {
                        readErrors++;
                        System.err.println("verify: read at block " + first + " failed: " + e.getCause());
                        Thread.sleep(500);
                    }
                }
                if (buf == null) {
                    for (int b = first; b < first + n; b++) {
                        lost += j.acked.get(b) > 0 ? 1 : 0;
                    }
                    continue;
                }
                try {
                    for (int i = 0; i < n; i++) {
                        int b = first + i;
                        long offset = (long) b * BLOCK;
                        long g = generation(buf, buf.readerIndex() + i * BLOCK, j.runId, offset);
                        long acked = j.acked.get(b);
                        long issued = j.issued.get(b);
                        checked++;
                        if (g < 0) {
                            corrupt++;
                            System.err.println("verify: block " + b + " is corrupt (acknowledged generation " + acked + ")");
                        } else if (g < acked || g > issued) {
                            lost++;
                            System.err.println("verify: block " + b + " holds generation " + g + "; acknowledged " + acked
                                    + ", issued " + issued);
                        }
                    }
                } finally {
                    buf.release();
                }
            }
            dev.close();
        }
        long written = 0;
        for (int b = 0; b < j.blocks; b++) {
            written += j.acked.get(b) > 0 ? 1 : 0;
        }
        System.out.printf("{\"checked\":%d,\"written\":%d,\"lost\":%d,\"corrupt\":%d,\"readErrors\":%d}%n",
                checked, written, lost, corrupt, readErrors);
        return lost == 0 && corrupt == 0 ? 0 : 1;
    }
}
