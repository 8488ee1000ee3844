package io.nbdvault.nbd.server;

import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Clients that send far more than they read back cost the server a bounded amount of memory. */
@Timeout(120)
class FloodTest {
    @TempDir
    Path dir;

    /** Counts the bytes of reads the device has been asked for and not yet answered, and the most at once. */
    static final class Outstanding extends ForwardingDevice {
        final AtomicLong now = new AtomicLong();
        final AtomicLong most = new AtomicLong();

        Outstanding(long size) {
            super(new MemoryDevice(size));
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            most.accumulateAndGet(now.addAndGet(length), Math::max);
            return super.read(offset, length).whenComplete((b, e) -> now.addAndGet(-length));
        }
    }

    @Test
    void readsFloodedWithoutReadingRepliesStayWithinTheBudgetAndOthersAreStillServed() throws Exception {
        Outstanding device = new Outstanding(1L << 30);
        long budget = 96L << 20;
        try (TestServer server = TestServer.start(dir, TestServer.with(device, false).maxInFlightBytes(budget))) {
            List<RawClient> flooders = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                RawClient flood = new RawClient(server.socket).handshake().go("disk");
                flooders.add(flood);
                // 200 × 32 MiB = 6.25 GiB asked for, in a few KiB of requests, none of the replies read.
                java.nio.ByteBuffer burst = java.nio.ByteBuffer.allocate(200 * 28);
                for (int i = 0; i < 200; i++) {
                    burst.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_READ).putLong(i)
                            .putLong((long) (i % 30) << 25).putInt(32 << 20);
                }
                flood.write(burst.flip());
            }
            Thread.sleep(2000);
            // A well-behaved client still gets its small read answered.
            try (RawClient polite = new RawClient(server.socket).handshake().go("disk")) {
                polite.request(0, Nbd.CMD_READ, 7, 4096, 4096, null);
                RawClient.Reply r = polite.reply(4096);
                assertEquals(0, r.error());
                assertEquals(7, r.cookie());
            }
            assertTrue(device.most.get() <= budget + (32L << 20),
                    "at most the budget (plus one request) was ever in flight: " + (device.most.get() >> 20) + " MiB");
            for (RawClient f : flooders) {
                f.close();
            }
        }
    }
}
