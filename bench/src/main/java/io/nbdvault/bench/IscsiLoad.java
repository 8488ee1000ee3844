package io.nbdvault.bench;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.transport.TransportContext;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A load generator for one replica URI that takes NBD out of the picture, shaped like
 * {@code qemu-img bench}: COUNT requests of SIZE bytes, DEPTH in flight, sequential offsets that
 * wrap at the end of the device, or (randread, randwrite) uniformly random aligned offsets. Prints the seconds the measured run took (after an unmeasured
 * warm-up of at least a quarter of COUNT and five seconds, until the JIT has settled).
 *
 * <p>usage: IscsiLoad URI read|write|randread|randwrite SIZE DEPTH COUNT
 */
public final class IscsiLoad {
    private IscsiLoad() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        boolean write = args[1].endsWith("write");
        boolean random = args[1].startsWith("rand");
        int size = Integer.parseInt(args[2]);
        int depth = Integer.parseInt(args[3]);
        long count = Long.parseLong(args[4]);
        try (TransportContext ctx = new TransportContext(NbdClientOptions.defaults()
                .withRequestTimeout(Duration.ofSeconds(30)), p -> null);
             BlockDevice d = ctx.open(uri).get(30, TimeUnit.SECONDS)) {
            ByteBuf data = ByteBufAllocator.DEFAULT.directBuffer(size);
            data.writeZero(size);
            for (int i = 0; i < size; i += 8) {
                data.setLong(i, i * 0x9e3779b97f4a7c15L);
            }
            // Warm-up until the JIT has settled: at least a quarter of COUNT, at least WARMUP seconds (system
            // property nbdvault.warmup, default 5), and until two rounds of COUNT/8 requests in a row compile
            // next to nothing (at most 60 s), so that compiler threads do not compete with the target for the
            // CPU during the measured run. One quiet round was not enough: with -XX:+PrintCompilation, 1 MiB
            // reads still compiled ~50 methods in the seconds after it, and C2 took a fifth of the samples
            // in perf, which put ~30 % on the CPU per request measured.
            long start0 = System.nanoTime();
            long warmupEnd = start0 + (long) (Double.parseDouble(System.getProperty("nbdvault.warmup", "5")) * 1e9);
            java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
            run(d, write, random, data, depth, Math.max(depth, count / 4));
            int quietRounds = 0;
            while (System.nanoTime() - start0 < 60_000_000_000L) {
                long compiled = jit.getTotalCompilationTime();
                run(d, write, random, data, depth, Math.max(depth, count / 8));
                quietRounds = jit.getTotalCompilationTime() - compiled <= 10 ? quietRounds + 1 : 0;
                if (System.nanoTime() >= warmupEnd && quietRounds >= 2) {
                    break;
                }
            }
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long cpu = os.getProcessCpuTime();
            long start = System.nanoTime();
            run(d, write, random, data, depth, count);
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpuSeconds = (os.getProcessCpuTime() - cpu) / 1e9;
            data.release();
            System.out.printf("%.3f%n", seconds);
            System.err.printf("cpu %.3f s%n", cpuSeconds); // this process's CPU time during the measured run
        }
    }

    private static void run(BlockDevice d, boolean write, boolean random, ByteBuf data, int depth, long count)
            throws Exception {
        int size = data.readableBytes();
        long span = d.size() / size * size;
        AtomicLong next = new AtomicLong();
        AtomicLong done = new AtomicLong();
        CountDownLatch finished = new CountDownLatch(1);
        Throwable[] failure = new Throwable[1];
        for (int i = 0; i < depth; i++) {
            issue(d, write, random, data, span, count, next, done, finished, failure);
        }
        finished.await();
        if (failure[0] != null) {
            throw new RuntimeException(failure[0]);
        }
    }

    private static void issue(BlockDevice d, boolean write, boolean random, ByteBuf data, long span, long count,
                              AtomicLong next, AtomicLong done, CountDownLatch finished, Throwable[] failure) {
        long n = next.getAndIncrement();
        if (n >= count) {
            return;
        }
        int size = data.readableBytes();
        long offset = random ? java.util.concurrent.ThreadLocalRandom.current().nextLong(span / size) * size : n * size % span;
        CompletableFuture<?> f = write ? d.write(offset, data, 0) : d.read(offset, size).thenAccept(ByteBuf::release);
        f.whenComplete((ok, e) -> {
            if (e != null) {
                failure[0] = e;
                finished.countDown();
                return;
            }
            if (done.incrementAndGet() == count) {
                finished.countDown();
            } else {
                issue(d, write, random, data, span, count, next, done, finished, failure);
            }
        });
    }
}
