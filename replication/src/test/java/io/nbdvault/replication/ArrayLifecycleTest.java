package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.nbdvault.replication.ReplicatedArrayTest.data;
import static io.nbdvault.replication.ReplicatedArrayTest.members;
import static io.nbdvault.replication.ReplicatedArrayTest.reopenable;
import static io.nbdvault.replication.ReplicatedArrayTest.superblock;
import static io.nbdvault.replication.WriteIntentBitmapTest.FROZEN;
import static io.nbdvault.replication.WriteIntentBitmapTest.GEOMETRY;
import static io.nbdvault.replication.WriteIntentBitmapTest.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Deadlines, late answers, cancellation and shutdown of a running array. */
@Timeout(60)
class ArrayLifecycleTest {
    /** Counts how often it is closed. */
    static final class CloseCounting extends ForwardingDevice {
        final AtomicInteger closes = new AtomicInteger();

        CloseCounting(BlockDevice below) {
            super(below);
        }

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    static long millisSince(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }

    @Test
    void aReplicaThatConnectsAfterTheReopenDeadlineIsClosed() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        CloseCounting late = new CloseCounting(ms.get(1).device());
        CompletableFuture<BlockDevice> connecting = new CompletableFuture<>();
        MemberOpener opener = name -> connecting;
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN.withOpener(opener))) {
            a.fail("m1").join();
            CompletionException e = assertThrows(CompletionException.class, () -> a.reAdd("m1").join());
            assertTrue(BlockDeviceException.unwrap(e) instanceof java.util.concurrent.TimeoutException, String.valueOf(e));
            // The replica answers now, after the array gave up on it: nobody holds it but the array.
            connecting.complete(late);
            assertEquals(1, late.closes.get(), "the late connection is closed, not left running");
            assertEquals("failed", a.status().members().get(1).state());
        }
    }

    @Test
    void shutdownCancelsARateLimitedRebuildWithinSeconds() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        Member fresh = reopenable(new Member("new", new MemoryDevice(GEOMETRY.memberSize())));
        MemberOpener opener = name -> CompletableFuture.completedFuture(fresh.device());
        ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN.withOpener(opener));
        a.volume().write(0, Unpooled.wrappedBuffer(data((int) MIB, 1)), 0).join();
        // 64 MiB at 1 MiB/s: a minute of rebuild.
        a.replace("m1", "new", MIB).join();
        Thread.sleep(300);
        long start = System.nanoTime();
        CompletableFuture.runAsync(a::close).get(10, TimeUnit.SECONDS);
        assertTrue(millisSince(start) < 5000, "close took " + millisSince(start) + " ms");
        Superblock sb = superblock(fresh);
        assertEquals(MemberRole.State.REBUILDING, sb.roles().get(1).state(), "an unfinished rebuild stays a rebuild");
        assertEquals(MemberRole.State.REBUILDING, superblock(ms.get(0)).roles().get(1).state());
    }

    @Test
    void shutdownFinishesWhenAMemberStopsAnsweringMeanwhile() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        FaultyDevice hanging = new FaultyDevice(base.get(2).device());
        List<Member> ms = List.of(base.get(0), base.get(1), new Member("m2", hanging));
        ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN);
        a.volume().write(0, Unpooled.wrappedBuffer(data(65536, 2)), 0).join();
        hanging.writes = FaultyDevice.Mode.HANG;
        long start = System.nanoTime();
        CompletableFuture.runAsync(a::close).get(20, TimeUnit.SECONDS);
        assertTrue(millisSince(start) < 10_000, "close took " + millisSince(start) + " ms");
        Superblock survivor = superblock(base.get(0));
        assertTrue(survivor.clean(), "the survivors record a clean shutdown");
        assertEquals(MemberRole.State.FAILED, survivor.roles().get(2).state(), "the hung member is recorded as failed");
    }

    @Test
    void readingAfterEveryReplicaWasLostFailsPromptly() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        List<FaultyDevice> faulty = base.stream().map(m -> new FaultyDevice(m.device())).toList();
        List<Member> ms = List.of(new Member("m0", faulty.get(0)), new Member("m1", faulty.get(1)), new Member("m2", faulty.get(2)));
        // Requests wait at most a second for a copy to come back (--queue-timeout), then fail.
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN.withQueueTimeout(Duration.ofSeconds(1)))) {
            faulty.forEach(f -> {
                f.reads = FaultyDevice.Mode.HANG;
                f.writes = FaultyDevice.Mode.HANG;
            });
            long start = System.nanoTime();
            CompletableFuture<ByteBuf> whole = a.volume().read(0, (int) (32 * MIB));
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> whole.get(10, TimeUnit.SECONDS));
            assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e.getCause()));
            assertTrue(millisSince(start) < 5000, "failed after " + millisSince(start) + " ms");
            assertEquals(ArrayStatus.State.FAILED, a.status().state());
            // Later requests wait out the queue timeout again, and fail after it, never later.
            CompletableFuture<ByteBuf> again = a.volume().read(0, 4096);
            assertThrows(java.util.concurrent.ExecutionException.class, () -> again.get(3, TimeUnit.SECONDS));
        }
    }
}
