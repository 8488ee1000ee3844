package io.nbdvault.core;

import io.nbdvault.testing.LeakDetection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The leak detector every test runs under does catch a leak (so a green suite means something). */
class LeakDetectionTest {
    @Test
    void anUnreleasedBufferIsReported() {
        LeakDetection.collect();
        leakOne();
        assertFalse(LeakDetection.collect().isEmpty(), "a buffer dropped without release() is reported");
        assertTrue(LeakDetection.collect().isEmpty(), "reports are drained once claimed");
    }

    private static void leakOne() {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        b.writeLong(42);
    }
}
