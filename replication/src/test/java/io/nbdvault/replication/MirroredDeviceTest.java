package io.nbdvault.replication;

import io.nbdvault.testing.Await;
import static io.nbdvault.testing.Devices.read;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class MirroredDeviceTest {
    static final int SIZE = 8 << 20;

    List<MemoryDevice> stores;
    List<FaultyDevice> copies;
    List<Integer> reported;
    MirroredDevice mirror;

    @BeforeEach
    void setUp() {
        stores = new ArrayList<>();
        copies = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            MemoryDevice m = new MemoryDevice(SIZE);
            stores.add(m);
            copies.add(new FaultyDevice(m));
        }
        reported = new CopyOnWriteArrayList<>();
        mirror = new MirroredDevice(CopySet.over(List.copyOf(copies), Duration.ofMillis(300), (copy, cause) -> reported.add(copy)));
    }

    CopySet set() {
        return mirror.copies();
    }


    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writesLandOnEveryCopy() {
        byte[] data = random(100_000, 1);
        mirror.write(12345, Unpooled.wrappedBuffer(data), 0).join();
        for (MemoryDevice m : stores) {
            assertArrayEquals(data, read(m, 12345, data.length));
        }
    }

    @Test
    void largeReadsUseEveryCopy() {
        byte[] data = random(4 << 20, 2);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        assertArrayEquals(data, read(mirror, 0, data.length));
        for (FaultyDevice c : copies) {
            assertEquals(1, c.readCount.get(), "each copy served one share of the read");
        }
    }

    @Test
    void failingCopyIsDroppedAndTheVolumeCarriesOn() {
        copies.get(1).writes = FaultyDevice.Mode.FAIL;
        byte[] data = random(8192, 3);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        assertEquals(List.of(1), reported);
        assertFalse(set().isLive(1));
        mirror.write(8192, Unpooled.wrappedBuffer(data), 0).join();
        assertEquals(1, copies.get(1).writeCount.get(), "a failed copy gets no more writes");
        assertArrayEquals(data, read(mirror, 8192, 8192));
    }

    @Test
    void hungCopyIsFailedWithinTheTimeout() {
        copies.get(2).writes = FaultyDevice.Mode.HANG;
        mirror.write(0, Unpooled.wrappedBuffer(random(4096, 4)), 0).join();
        assertEquals(List.of(2), reported);
        copies.get(0).reads = FaultyDevice.Mode.HANG;
        byte[] got = read(mirror, 0, 4096);
        assertArrayEquals(random(4096, 4), got, "the read moved on to a copy that answers");
        assertEquals(List.of(2, 0), reported);
    }

    @Test
    void readErrorIsServedByAnotherCopyAndRepaired() throws Exception {
        byte[] data = random(4096, 5);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        // Copy 0 loses the data silently and then errors on reads of it.
        stores.get(0).write(0, Unpooled.wrappedBuffer(new byte[4096]), 0).join();
        copies.get(0).reads = FaultyDevice.Mode.FAIL;
        copies.get(1).reads = FaultyDevice.Mode.OK;
        assertArrayEquals(data, read(mirror, 0, 4096));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!java.util.Arrays.equals(data, read(stores.get(0), 0, 4096))) {
            assertTrue(System.nanoTime() < deadline, "copy 0 was rewritten from a good copy");
            Thread.sleep(10);
        }
        assertTrue(set().isLive(0), "a repaired copy stays in service");
    }

    @Test
    void aRepairWritesTheGoodBytesEvenIfTheReaderChangesItsBufferFirst() throws Exception {
        byte[] data = random(8192, 6);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        copies.get(0).reads = FaultyDevice.Mode.FAIL;
        copies.get(1).reads = FaultyDevice.Mode.OK;
        copies.get(0).writes = FaultyDevice.Mode.HELD; // the rewrite waits, as one queued for a busy connection
        ByteBuf got = mirror.read(0, 8192).join();
        assertArrayEquals(data, io.netty.buffer.ByteBufUtil.getBytes(got));
        got.setZero(0, 8192); // the reader's buffer: decrypted in place by the layer above, for one
        got.release();
        assertEquals(2, copies.get(0).writeCount.get(), "copy 0 is being rewritten (after the first write)");
        copies.get(0).release.complete(null); // runs the held rewrite on this thread, before returning
        assertTrue(set().isLive(0));
        assertArrayEquals(data, read(stores.get(0), 0, 8192), "copy 0 holds the good bytes, not the reader's");
    }

    @Test
    void volumeFailsOnlyWhenNoCopyIsLeft() {
        copies.forEach(c -> c.writes = FaultyDevice.Mode.FAIL);
        CompletionException e = assertThrows(CompletionException.class,
                () -> mirror.write(0, Unpooled.wrappedBuffer(new byte[512]), 0).join());
        assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e));
        assertEquals(3, reported.size());
        assertThrows(CompletionException.class, () -> read(mirror, 0, 512));
    }

    @Test
    void restoredCopyIsUsedAgain() {
        set().fail(1, new RuntimeException("administrator"));
        assertFalse(set().isLive(1));
        set().restore(1);
        mirror.write(0, Unpooled.wrappedBuffer(new byte[] {1}), 0).join();
        assertEquals(1, read(stores.get(1), 0, 1)[0]);
    }

    @Test
    void aRangeUnreadableOnEveryCopyGivesEioAndKeepsTheGroupInService() {
        byte[] data = random(8192, 6);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        copies.forEach(c -> c.reads = FaultyDevice.Mode.FAIL);
        CompletionException e = assertThrows(CompletionException.class, () -> read(mirror, 0, 4096));
        assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e));
        assertEquals(List.of(), reported, "no copy is failed for an error every copy shares");
        assertEquals(List.of(0, 1, 2), set().readable());
        copies.forEach(c -> c.reads = FaultyDevice.Mode.OK);
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 4096, 8192), read(mirror, 4096, 4096), "other ranges still read");
    }

    @Test
    void aReadAnsweredAfterTheDeadlineIsReleasedAndServedByAnotherCopy() throws Exception {
        byte[] data = random(4096, 7);
        mirror.write(0, Unpooled.wrappedBuffer(data), 0).join();
        // Copy 0 answers for real, but only after the 300 ms deadline: its buffer must not leak.
        copies.get(0).reads = FaultyDevice.Mode.LATE;
        assertArrayEquals(data, read(mirror, 0, 4096));
        assertEquals(List.of(0), reported, "a copy that does not answer in time is failed");
        Thread.sleep(FaultyDevice.LATE_MILLIS + 200);
        // The leak detector (PARANOID, failing the test) checks that the late buffer was released.
    }

    @Test
    void oneSmallReadAtATimeStillReachesEveryCopy() {
        mirror.write(0, Unpooled.wrappedBuffer(random(65536, 8)), 0).join();
        for (int i = 0; i < 30; i++) {
            read(mirror, (i % 16) * 4096L, 4096);
        }
        for (FaultyDevice c : copies) {
            assertTrue(c.readCount.get() >= 5, "every copy serves reads (and so has its damage found): " + c.readCount);
        }
    }

    @Test
    void oneSlowReadDoesNotTurnReadsAwayFromAHealthyCopy() {
        mirror.write(0, Unpooled.wrappedBuffer(random(65536, 10)), 0).join();
        // One outlier, as a process's first cold read or a GC pause on a loaded machine gives.
        copies.get(0).reads = FaultyDevice.Mode.SLOW;
        read(mirror, 0, 4096);
        copies.get(0).reads = FaultyDevice.Mode.OK;
        assertEquals(1, copies.get(0).readCount.get(), "the first read went to the first copy");
        for (int i = 0; i < 30; i++) {
            read(mirror, (i % 16) * 4096L, 4096);
        }
        assertTrue(copies.get(0).readCount.get() >= 6, "the copy with one slow read still serves its share: "
                + copies.get(0).readCount + " of 31");
    }

    @Test
    void aSlowCopyServesFewerReadsButStillSome() {
        mirror.write(0, Unpooled.wrappedBuffer(random(65536, 9)), 0).join();
        copies.get(2).reads = FaultyDevice.Mode.SLOW;
        for (int i = 0; i < 160; i++) {
            read(mirror, (i % 16) * 4096L, 4096);
        }
        int slow = copies.get(2).readCount.get();
        int fast = Math.min(copies.get(0).readCount.get(), copies.get(1).readCount.get());
        assertTrue(slow > 0, "the slow copy is still measured");
        assertTrue(slow * 4 < fast, "the slow copy (" + slow + " reads) serves far less than a fast one (" + fast + "); "
                + copies.get(0).readCount + " " + copies.get(1).readCount);
        assertEquals(List.of(), reported, "slow is not failed");
    }

    MirroredDevice quorumOfTwo(long maxLag) {
        return new MirroredDevice(CopySet.over(List.copyOf(copies), Duration.ofSeconds(10), (copy, cause) -> reported.add(copy)),
                2, maxLag);
    }

    @Test
    void withAWriteQuorumTheLaggardServesNoReadsUntilItHasCaughtUp() throws Exception {
        MirroredDevice m = quorumOfTwo(64 << 20);
        copies.get(2).writes = FaultyDevice.Mode.HELD;
        byte[] data = random(8192, 10);
        m.write(4096, Unpooled.wrappedBuffer(data), WriteFlags.FUA).join();
        assertArrayEquals(new byte[8192], read(stores.get(2), 4096, 8192), "acknowledged before the far copy has it");
        assertEquals(8192, m.copies().behind(2));
        assertFalse(m.copies().isReadable(2), "a copy behind serves no reads");
        for (int i = 0; i < 10; i++) {
            assertArrayEquals(data, read(m, 4096, 8192));
        }
        assertEquals(0, copies.get(2).readCount.get());
        copies.get(2).release.complete(null);
        Await.until(() -> m.copies().behind(2) == 0, "caught up");
        assertArrayEquals(data, read(stores.get(2), 4096, 8192));
        assertTrue(m.copies().isReadable(2));
        assertEquals(List.of(), reported);
    }

    @Test
    void theQuorumAlwaysIncludesTheFirstUpToDateCopy() throws Exception {
        // The first copy is the source a crash resync copies from: it may never lag.
        MirroredDevice m = quorumOfTwo(64 << 20);
        copies.get(0).writes = FaultyDevice.Mode.HELD;
        java.util.concurrent.CompletableFuture<Void> w = m.write(0, Unpooled.wrappedBuffer(random(4096, 15)), 0);
        Thread.sleep(200);
        assertFalse(w.isDone(), "copies 1 and 2 make a quorum of two, but not without copy 0");
        copies.get(0).release.complete(null);
        w.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(0, m.copies().behind(1) + m.copies().behind(2));
    }

    @Test
    void laterWritesToARangeReachALaggingCopyInOrder() throws Exception {
        MirroredDevice m = quorumOfTwo(64 << 20);
        copies.get(2).writes = FaultyDevice.Mode.HELD;
        byte[] first = random(4096, 11);
        byte[] second = random(4096, 12);
        m.write(0, Unpooled.wrappedBuffer(first), 0).join();
        copies.get(2).writes = FaultyDevice.Mode.OK;
        // Would land at once on copy 2 — but must wait for the first, still held there.
        m.write(0, Unpooled.wrappedBuffer(second), 0).join();
        copies.get(2).release.complete(null);
        Await.until(() -> m.copies().behind(2) == 0, "caught up");
        assertArrayEquals(second, read(stores.get(2), 0, 4096), "the later write wins on every copy");
        assertArrayEquals(second, read(stores.get(0), 0, 4096));
    }

    @Test
    void aCopyTooFarBehindHoldsBackTheNextWrite() throws Exception {
        MirroredDevice m = quorumOfTwo(4096);
        copies.get(2).writes = FaultyDevice.Mode.HELD;
        m.write(0, Unpooled.wrappedBuffer(random(8192, 13)), 0).join();
        java.util.concurrent.CompletableFuture<Void> next = m.write(65536, Unpooled.wrappedBuffer(random(4096, 14)), 0);
        Thread.sleep(200);
        assertFalse(next.isDone(), "8 KiB behind a 4 KiB bound: the next write waits for the far copy");
        copies.get(2).release.complete(null);
        next.get(10, java.util.concurrent.TimeUnit.SECONDS);
        Await.until(() -> m.copies().behind(2) == 0, "caught up");
    }

    @Test
    void aRateLimitedResyncCopiesNoFasterThanAskedAndReportsProgress() {
        List<BlockDevice> devices = List.of(new MemoryDevice(4 << 20), new MemoryDevice(4 << 20));
        CopySet set = CopySet.over(devices, Duration.ofSeconds(5), (c, e) -> { });
        java.util.concurrent.ScheduledExecutorService control = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        try {
            GroupJobs jobs = new GroupJobs(set, new WriteGate(), null, control);
            List<long[]> seen = new CopyOnWriteArrayList<>();
            set.fail(1, new java.io.IOException("away"));
            long start = System.nanoTime();
            long copied = jobs.resync(1, false, 8L << 20, (done, total) -> seen.add(new long[] {done, total})).join();
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(4L << 20, copied);
            // 4 MiB at 8 MiB/s: the limiter must hold the last step back until about 500 ms have passed.
            assertTrue(elapsedMillis >= 400, "4 MiB at 8 MiB/s took only " + elapsedMillis + " ms");
            assertArrayEquals(new long[] {0, 4 << 20}, seen.get(0), "progress starts at 0 of the total");
            assertArrayEquals(new long[] {4 << 20, 4 << 20}, seen.get(seen.size() - 1));
            assertTrue(set.isLive(1) && !set.isSyncing(1));
        } finally {
            control.shutdownNow();
        }
    }

    @Test
    void aSlowResyncIsCancelledPromptlyAndLeavesTheCopySyncing() {
        List<BlockDevice> devices = List.of(new MemoryDevice(64 << 20), new MemoryDevice(64 << 20));
        CopySet set = CopySet.over(devices, Duration.ofSeconds(5), (c, e) -> { });
        java.util.concurrent.ScheduledExecutorService control = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        try {
            GroupJobs jobs = new GroupJobs(set, new WriteGate(), null, control);
            set.fail(1, new java.io.IOException("away"));
            // 64 MiB at 1 MiB/s would take a minute.
            java.util.concurrent.CompletableFuture<Long> slow = jobs.resync(1, false, 1 << 20, ProgressListener.NONE);
            long start = System.nanoTime();
            jobs.cancelAll().orTimeout(5, java.util.concurrent.TimeUnit.SECONDS).join();
            assertTrue((System.nanoTime() - start) < 3_000_000_000L, "cancelled within a few seconds");
            CompletionException e = assertThrows(CompletionException.class, slow::join);
            assertTrue(e.getCause() instanceof java.util.concurrent.CancellationException, String.valueOf(e.getCause()));
            assertTrue(set.isSyncing(1), "an unfinished resync never puts the copy back in service");
        } finally {
            control.shutdownNow();
        }
    }
}
