package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyMeterTest {
    @Test
    void percentilesAreThoseOfTheRecordedValuesAndSurviveRepeatedReads() {
        LatencyMeter m = new LatencyMeter();
        for (int i = 1; i <= 1000; i++) {
            m.recordMicros(i);
        }
        LatencyMeter.Summary s = m.summary();
        assertEquals(1000, s.count());
        assertEquals(500, s.p50Micros(), 1);
        assertEquals(990, s.p99Micros(), 1);
        assertEquals(999, s.p999Micros(), 1);
        assertEquals(1000, s.maxMicros(), 1);
        // A second read keeps the lifetime (the recorder's interval is added, not swapped away).
        m.recordMicros(1_000_000);
        s = m.summary();
        assertEquals(1001, s.count());
        assertEquals(500, s.p50Micros(), 1);
        assertTrue(s.maxMicros() >= 999_000, "max " + s.maxMicros());
    }

    @Test
    void concurrentWritersLoseNoRecordWhileAReaderSamples() throws Exception {
        LatencyMeter m = new LatencyMeter();
        int threads = 4;
        int each = 200_000;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t;
            Thread w = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < each; i++) {
                    m.recordMicros(10 + base);
                }
            });
            w.start();
            writers.add(w);
        }
        go.countDown();
        long seen = 0;
        for (Thread w : writers) {
            while (w.isAlive()) {
                long now = m.summary().count();
                assertTrue(now >= seen, "the lifetime count never goes back");
                seen = now;
            }
            w.join();
        }
        assertEquals((long) threads * each, m.summary().count());
    }

    @Test
    void timedDeviceRecordsPerTypeAndLayersComeOutInOrderOfFirstUse() {
        LayerLatencies latencies = new LayerLatencies();
        latencies.meter("front", "read");
        CompletableFuture<Void> slowWrite = new CompletableFuture<>();
        BlockDevice below = new ForwardingDevice(new MemoryDevice(1 << 20)) {
            @Override
            public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
                return slowWrite;
            }
        };
        try (TimedDevice timed = new TimedDevice(below, latencies, "inner")) {
            timed.read(0, 4096).join().release();
            timed.read(4096, 4096).join().release();
            CompletableFuture<Void> w = timed.write(0, Unpooled.wrappedBuffer(new byte[512]), WriteFlags.NONE);
            assertEquals(List.of("inner read 2"), describe(latencies.snapshot()), "a write not yet answered is not counted");
            sleep(30);
            slowWrite.complete(null);
            w.join();
            latencies.meter("front", "read").recordMicros(5);
            List<LayerLatencies.Layer> layers = latencies.snapshot();
            assertEquals(List.of("front read 1", "inner read 2", "inner write 1"), describe(layers));
            assertTrue(layers.get(2).p50Micros() >= 25_000, "the write took as long as the layer below: " + layers.get(2));
        }
    }

    private static List<String> describe(List<LayerLatencies.Layer> layers) {
        return layers.stream().map(l -> l.layer() + " " + l.type() + " " + l.requests()).toList();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
