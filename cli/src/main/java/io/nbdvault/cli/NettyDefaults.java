package io.nbdvault.cli;

import java.util.Properties;

/**
 * Netty settings that nbdvault's own process starts with, unless its command line sets them
 * ({@code -D...} in {@code NBDVAULT_JAVA_OPTS}).
 *
 * <p>Leak detection is off. Netty's default samples one buffer in 128 and records a stack trace for
 * each, which on the data path cost about a tenth of the server's CPU per 4 KiB request (an A/B of the
 * same jar on three nbdkit replicas, JDK 25: 0.90-0.92x the CPU and 1.06-1.09x the IOPS of 4 KiB random
 * reads and writes with it off; sampling one in 4096 instead recovered only half of that). The test
 * suite runs the detector on every buffer (PARANOID, pom.xml) and fails on any report, and in
 * production {@code nbdvault status} shows the direct memory the allocator holds, where a leak would
 * show as growth. {@code -Dio.netty.leakDetection.level=simple} (or advanced, paranoid) turns it back on.
 *
 * <p>Netty's adaptive allocator keeps at least {@value #REUSED_CHUNKS} free chunks for reuse, not
 * only the cores × 2 it keeps by default (more where there are more cores, the default's reason).
 * The buffers io_uring reads into are cut from 512 KiB chunks, and a request holds its buffers
 * until it is answered: eight 1 MiB writes in flight hold about sixteen chunks. With four kept
 * (2 cores), most chunks were freed as their last buffer went and a new one made, and zeroed by
 * the JDK's allocateDirect, for the next reads. Netty's {@code io.netty.AllocateChunk} JFR events
 * during 6 s of fio's 1 MiB writes at queue depth 8 (three nbdkit replicas, JDK 25, 2 cores):
 * 3362 new chunks, 1.4 per request, with four kept; 105 with 16; 8 with 32. 1 MiB reads: 1131
 * with four, none with 32. The allocator then held 20.6 MiB of direct memory instead of 16.0. On a
 * noisy machine, A/Bs gave 0.92x and 1.01x the server's CPU per 1 MiB write, 0.96x per read: the
 * saving is a few per cent at most. {@code -Dio.netty.allocator.chunkReuseQueueCapacity=N} sets
 * another number.
 */
final class NettyDefaults {
    static final String LEAK_LEVEL = "io.netty.leakDetection.level";
    /** The name older Netty versions read, which Netty still honours. */
    static final String LEGACY_LEAK_LEVEL = "io.netty.leakDetectionLevel";
    static final String CHUNK_REUSE = "io.netty.allocator.chunkReuseQueueCapacity";
    static final int REUSED_CHUNKS = 32;

    private NettyDefaults() {
    }

    /** How many free chunks the allocator keeps unless told otherwise: Netty's default or 32, whichever is more. */
    static int reusedChunks() {
        return Math.max(REUSED_CHUNKS, 2 * Runtime.getRuntime().availableProcessors());
    }

    /** Sets in {@code properties} what the user did not; before any Netty class has read them. */
    static void apply(Properties properties) {
        if (properties.getProperty(LEAK_LEVEL) == null && properties.getProperty(LEGACY_LEAK_LEVEL) == null) {
            properties.setProperty(LEAK_LEVEL, "disabled");
        }
        if (properties.getProperty(CHUNK_REUSE) == null) {
            properties.setProperty(CHUNK_REUSE, Integer.toString(reusedChunks()));
        }
    }
}
