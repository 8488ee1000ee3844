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
 */
final class NettyDefaults {
    static final String LEAK_LEVEL = "io.netty.leakDetection.level";
    /** The name older Netty versions read, which Netty still honours. */
    static final String LEGACY_LEAK_LEVEL = "io.netty.leakDetectionLevel";

    private NettyDefaults() {
    }

    /** Sets in {@code properties} what the user did not; before any Netty class has read them. */
    static void apply(Properties properties) {
        if (properties.getProperty(LEAK_LEVEL) == null && properties.getProperty(LEGACY_LEAK_LEVEL) == null) {
            properties.setProperty(LEAK_LEVEL, "disabled");
        }
    }
}
