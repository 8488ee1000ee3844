package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Netty's leak detector at PARANOID for the iSCSI tests (every buffer tracked), with its reports
 * (logged through java.util.logging) collected so that a test can fail on them.
 */
final class LeakCheck {
    private static final List<String> LEAKS = new ArrayList<>();
    private static final Logger NETTY = Logger.getLogger(ResourceLeakDetector.class.getName());
    private static boolean installed;

    private LeakCheck() {
    }

    static synchronized void paranoid() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        if (!installed) {
            installed = true;
            NETTY.addHandler(new Handler() {
                @Override
                public void publish(LogRecord record) {
                    if (record.getMessage() != null && record.getMessage().contains("LEAK")) {
                        synchronized (LEAKS) {
                            LEAKS.add(record.getMessage());
                        }
                    }
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            });
        }
    }

    /** Collects garbage and lets the detector look at it: no buffer may have been dropped unreleased. */
    static void assertNoLeaks() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            // the detector reports when a tracked buffer is allocated
            for (int j = 0; j < 100; j++) {
                ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(16);
                b.release();
            }
        }
        synchronized (LEAKS) {
            assertEquals(List.of(), LEAKS, "Netty reported leaked buffers");
        }
    }
}
