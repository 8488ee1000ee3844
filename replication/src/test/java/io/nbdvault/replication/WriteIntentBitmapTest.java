package io.nbdvault.replication;

import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.Devices;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import static io.nbdvault.replication.ReplicatedArrayTest.data;
import static io.nbdvault.replication.ReplicatedArrayTest.members;
import static io.nbdvault.replication.ReplicatedArrayTest.reopenable;
import static io.nbdvault.replication.ReplicatedArrayTest.superblock;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The write-intent bitmap: what it records, and the resyncs it makes small. */
@Timeout(60)
class WriteIntentBitmapTest {
    static final long MIB = 1 << 20;
    static final ArrayGeometry GEOMETRY = new ArrayGeometry(1, 3, 64 * 1024, 64 * MIB);
    /** 1 MiB regions, cleared after 50 ms idle, failed members probed every 50 ms. */
    static final ArrayOptions FAST = new ArrayOptions(Duration.ofMillis(500), 0, false)
            .withBitmap(MIB, Duration.ofMillis(50)).withProbeInterval(Duration.ofMillis(50));
    /** As FAST but nothing is ever cleared or probed: a process that stops doing background work. */
    static final ArrayOptions FROZEN = new ArrayOptions(Duration.ofMillis(500), 0, false)
            .withBitmap(MIB, Duration.ofHours(1)).withProbeInterval(Duration.ofHours(1));

    /** A store whose page writes wait until the test lets them through. */

    @Test
    void aWriteWaitsUntilItsBitIsDurableAndSharesAPendingPageWrite() {
        List<CompletableFuture<Void>> raw = new ArrayList<>();
        Map<Integer, byte[]> landed = new ConcurrentHashMap<>();
        WriteIntentBitmap.Store store = new ImmediateStore() {
            @Override
            public synchronized CompletableFuture<Void> writePage(int page, byte[] bytes) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                raw.add(f);
                return f.thenRun(() -> landed.put(page, bytes));
            }
        };
        WriteIntentBitmap bits = new WriteIntentBitmap(MIB, 64 * MIB, 1, store);
        CompletableFuture<Void> first = bits.begin(0, 4096);
        CompletableFuture<Void> second = bits.begin(5 * MIB, 4096);
        CompletableFuture<Void> sameRegion = bits.begin(100, 100);
        assertFalse(first.isDone(), "no write goes out before its bit is on disk");
        assertFalse(sameRegion.isDone(), "a region marked a moment ago is not durable yet either");
        assertEquals(1, raw.size(), "one page write in progress");
        raw.get(0).complete(null);
        assertTrue(first.isDone());
        assertTrue(sameRegion.isDone());
        // The second bit was set while the first page write was in flight: a second write carries it.
        assertFalse(second.isDone());
        assertEquals(2, raw.size());
        raw.get(1).complete(null);
        assertTrue(second.isDone());
        byte[] page = landed.get(0);
        assertEquals(0b0010_0001, page[0], "bits 0 and 5 set, least significant first");
        BitSet decoded = new BitSet();
        WriteIntentBitmap.decodePage(page, 0, bits.regions(), decoded);
        assertEquals(BitSet.valueOf(new long[] {0b10_0001}), decoded);
        bits.end(0, 4096);
        bits.end(5 * MIB, 4096);
        bits.end(100, 100);
        assertEquals(List.of(List.of(0L, MIB), List.of(5 * MIB, MIB)),
                bits.dirtyRanges(64 * MIB).stream().map(r -> List.of(r[0], r[1])).toList());
    }

    @Test
    void regionsAreClearedOnlyAfterAnIdlePeriodAndNeverWhileInFlight() {
        WriteIntentBitmap bits = new WriteIntentBitmap(MIB, 64 * MIB, 1, new ImmediateStore());
        bits.begin(0, 4096).join();
        bits.begin(3 * MIB, 4096).join();
        bits.end(3 * MIB, 4096);
        assertEquals(0, bits.clearIdle(2, () -> true, false).join(), "both were written during this period");
        assertEquals(1, bits.clearIdle(3, () -> true, false).join(), "region 3 was idle a whole period; region 0 is in flight");
        assertEquals(3, bits.clearedAtEvents());
        assertEquals(0, bits.clearIdle(4, () -> false, false).join(), "never while a copy is out of sync");
        bits.end(0, 4096);
        assertEquals(0, bits.clearIdle(5, () -> false, true).join());
        assertEquals(1, bits.clearIdle(5, () -> true, true).join());
        assertEquals(0, bits.dirtyRegions());
    }

    static class ImmediateStore implements WriteIntentBitmap.Store {
        @Override
        public CompletableFuture<Void> writePage(int page, byte[] bytes) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> writeHeader(BitmapHeader header) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flushCopies() {
            return CompletableFuture.completedFuture(null);
        }
    }

    static void awaitClean(ReplicatedArray a) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (a.status().dirtyRegions().stream().mapToLong(Long::longValue).sum() != 0) {
            assertTrue(System.nanoTime() < deadline, "bitmap cleared while idle: " + a.status());
            Thread.sleep(20);
        }
    }

    static ArrayStatus.MemberStatus member(ReplicatedArray a, String name) {
        return a.status().members().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void aReturningMemberGetsOnlyTheRegionsWrittenWhileItWasAway() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        FaultyDevice flaky = new FaultyDevice(base.get(1).device());
        List<Member> ms = List.of(base.get(0), new Member("m1", flaky), base.get(2));
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN.withBitmap(MIB, Duration.ofMillis(50)))) {
            a.volume().write(0, Unpooled.wrappedBuffer(data((int) (16 * MIB), 1)), 0).join();
            awaitClean(a);
            flaky.writes = FaultyDevice.Mode.FAIL;
            byte[] away = data((int) (2 * MIB), 2);
            a.volume().write(10 * MIB, Unpooled.wrappedBuffer(away), 0).join();
            assertEquals("failed", member(a, "m1").state());
            a.volume().write(40 * MIB + 7 * 512, Unpooled.wrappedBuffer(data(4096, 3)), 0).join();
            flaky.writes = FaultyDevice.Mode.OK;
            assertTrue(a.reAdd("m1").join(), "the bitmap covers its absence");
            a.resyncsDone().join();
            assertEquals("active", member(a, "m1").state());
            assertEquals(3 * MIB, member(a, "m1").syncedBytes(), "two regions written away, plus one: 3 MiB of 64 copied");
            assertArrayEquals(Devices.read(base.get(0).device(), 0, (int) (48 * MIB)),
                    Devices.read(base.get(1).device(), 0, (int) (48 * MIB)));
            assertEquals(0L, a.scrub(false).join());
            IllegalStateException twice = assertThrows(IllegalStateException.class, () -> {
                try {
                    a.reAdd("m1").join();
                } catch (java.util.concurrent.CompletionException e) {
                    throw e.getCause();
                }
            });
            assertTrue(twice.getMessage().contains("already in service"), twice.getMessage());
        }
    }

    @Test
    void aFailedMemberThatAnswersAgainIsTakenBackAutomaticallyButNotOneAnAdministratorFailed() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        FaultyDevice flaky = new FaultyDevice(base.get(2).device());
        List<Member> ms = List.of(base.get(0), base.get(1), new Member("m2", flaky));
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FAST)) {
            flaky.writes = FaultyDevice.Mode.FAIL;
            flaky.reads = FaultyDevice.Mode.FAIL;
            a.volume().write(MIB, Unpooled.wrappedBuffer(data(8192, 4)), 0).join();
            a.fail("m1").join();
            Thread.sleep(300);
            assertEquals(ArrayStatus.State.DEGRADED, a.status().state(), "m2 does not answer yet");
            flaky.writes = FaultyDevice.Mode.OK;
            flaky.reads = FaultyDevice.Mode.OK;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!member(a, "m2").state().equals("active")) {
                assertTrue(System.nanoTime() < deadline, "m2 taken back: " + a.status());
                Thread.sleep(20);
            }
            Thread.sleep(300);
            assertEquals("failed", member(a, "m1").state(), "an administrator's fail sticks until re-add");
            a.reAdd("m1").join();
            a.resyncsDone().join();
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
        }
    }

    @Test
    void afterACrashOnlyTheRegionsInFlightAreResynchronised() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(ms, GEOMETRY, FROZEN).close();
        for (Member m : ms) {
            MetadataIo.LoadedBitmap b = ReplicatedArray.join(MetadataIo.readBitmap(m.device()));
            assertEquals(64, b.header().regions());
            assertTrue(b.bits().isEmpty(), "a clean shutdown leaves nothing to resync");
        }
        ReplicatedArray crashed = ReplicatedArray.assemble(ms, FROZEN);
        crashed.volume().write(20 * MIB, Unpooled.wrappedBuffer(data(4096, 5)), 0).join();
        // The crash: never closed, and one more write reached copy 0 only (its bit was set first).
        byte[] torn = data(65536, 6);
        crashed.bitmapForTest(0).begin(30 * MIB, torn.length).join();
        ms.get(0).device().write(30 * MIB, Unpooled.wrappedBuffer(torn), 0).join();
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, FROZEN)) {
            a.resyncsDone().join();
            assertEquals(2 * MIB, member(a, "m1").syncedBytes(), "two regions of 64 resynchronised");
            assertEquals(2 * MIB, member(a, "m2").syncedBytes());
            for (Member m : ms) {
                assertArrayEquals(torn, Devices.read(m.device(), 30 * MIB, torn.length), m.name() + " agrees after resync");
            }
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void replaceRebuildsANewMemberInFullAndTheOldOneIsNoLongerAMember() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        Member fresh = reopenable(new Member("new", new MemoryDevice(GEOMETRY.memberSize())));
        MemberOpener opener = name -> name.equals("new") ? CompletableFuture.completedFuture(fresh.device())
                : CompletableFuture.failedFuture(new java.io.IOException("no such replica " + name));
        byte[] d = data((int) (8 * MIB), 7);
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FROZEN.withOpener(opener))) {
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
            a.replace("m1", "new", 0).join();
            a.resyncsDone().join();
            assertEquals(GEOMETRY.memberDataSize(), member(a, "new").syncedBytes(), "a replacement is copied in full");
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
            assertTrue(a.replace("m0", "m2", 0).handle((x, e) -> e).join().getMessage().contains("no such replica"));
        }
        assertArrayEquals(d, Devices.read(fresh.device(), 0, d.length));
        Superblock sb = superblock(fresh);
        assertEquals(1, sb.slot());
        assertEquals(MemberRole.State.ACTIVE, sb.roles().get(1).state());
        // The replaced member, still listed by mistake, is ignored: the array runs without it.
        try (ReplicatedArray withOld = ReplicatedArray.assemble(List.of(ms.get(0), ms.get(1), ms.get(2)), FROZEN)) {
            assertEquals(List.of("active", "missing", "active"),
                    withOld.status().members().stream().map(ArrayStatus.MemberStatus::state).toList());
        }
        ReplicatedArray.assemble(List.of(ms.get(0), fresh, ms.get(2)), FROZEN).close();
    }

    @Test
    void anArrayWithoutAUsableBitmapGetsOneAndItsReturningMembersAreCopiedInFull() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(base, GEOMETRY, FROZEN).close();
        for (Member m : base) {
            // As an array made before bitmaps existed: nothing where the header would be.
            m.device().write(MetadataIo.offsetA(m.device()) + BitmapHeader.HEADER_OFFSET,
                    Unpooled.wrappedBuffer(new byte[BitmapHeader.PAGE_SIZE]), 0).join();
        }
        FaultyDevice flaky = new FaultyDevice(base.get(1).device());
        List<Member> ms = List.of(base.get(0), new Member("m1", flaky), base.get(2));
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, FROZEN)) {
            for (Member m : base) {
                assertEquals(BitmapHeader.regionsFor(GEOMETRY.memberDataSize(), BitmapHeader.DEFAULT_REGION_SIZE),
                        ReplicatedArray.join(MetadataIo.readBitmap(m.device())).header().regions(),
                        m.name() + " has a bitmap again");
            }
            flaky.writes = FaultyDevice.Mode.FAIL;
            a.volume().write(0, Unpooled.wrappedBuffer(data(4096, 8)), 0).join();
            flaky.writes = FaultyDevice.Mode.OK;
            assertFalse(a.reAdd("m1").join(), "the new bitmap does not cover what m1 may have missed before it");
            a.resyncsDone().join();
            assertEquals(GEOMETRY.memberDataSize(), member(a, "m1").syncedBytes());
        }
    }

    @Test
    void eachGroupKeepsItsOwnBitmap() throws Exception {
        ArrayGeometry twoGroups = new ArrayGeometry(2, 2, 64 * 1024, 64 * MIB);
        List<Member> base = reopenable(members(4, twoGroups.memberSize()));
        FaultyDevice flaky = new FaultyDevice(base.get(3).device());
        List<Member> ms = List.of(base.get(0), base.get(1), base.get(2), new Member("m3", flaky));
        try (ReplicatedArray a = ReplicatedArray.create(ms, twoGroups, FROZEN.withBitmap(MIB, Duration.ofMillis(50)))) {
            a.volume().write(0, Unpooled.wrappedBuffer(data((int) (8 * MIB), 9)), 0).join();
            awaitClean(a);
            flaky.writes = FaultyDevice.Mode.FAIL;
            // 256 KiB at volume offset 0 is chunks 0-3: two 64 KiB chunks land on each group, at member offset 0.
            byte[] away = data(256 * 1024, 10);
            a.volume().write(0, Unpooled.wrappedBuffer(away), 0).join();
            assertEquals("failed", member(a, "m3").state());
            assertEquals(List.of(1L, 1L), a.status().dirtyRegions(), "each group marked its own region 0");
            flaky.writes = FaultyDevice.Mode.OK;
            assertTrue(a.reAdd("m3").join());
            a.resyncsDone().join();
            assertEquals(MIB, member(a, "m3").syncedBytes(), "only group 1's one dirty region");
            assertArrayEquals(Devices.read(base.get(2).device(), 0, (int) (4 * MIB)),
                    Devices.read(base.get(3).device(), 0, (int) (4 * MIB)));
            assertEquals(0L, a.scrub(false).join());
        }
    }
}
