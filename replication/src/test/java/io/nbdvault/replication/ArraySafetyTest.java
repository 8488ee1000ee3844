package io.nbdvault.replication;

import io.nbdvault.testing.Await;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.Devices;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static io.nbdvault.replication.ReplicatedArrayTest.data;
import static io.nbdvault.replication.ReplicatedArrayTest.members;
import static io.nbdvault.replication.ReplicatedArrayTest.reopenable;
import static io.nbdvault.replication.WriteIntentBitmapTest.FAST;
import static io.nbdvault.replication.WriteIntentBitmapTest.FROZEN;
import static io.nbdvault.replication.WriteIntentBitmapTest.GEOMETRY;
import static io.nbdvault.replication.WriteIntentBitmapTest.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the array refuses to do to itself, and how it finds its way back. */
@Timeout(60)
class ArraySafetyTest {
    static String stateOf(ReplicatedArray a, String name) {
        return a.status().members().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow().state();
    }

    /** Reopenable in-memory members m0.. behind fault injection. */
    static List<FaultyDevice> faultyDisks(int n) {
        return reopenable(members(n, GEOMETRY.memberSize())).stream().map(m -> new FaultyDevice(m.device())).toList();
    }

    static List<Member> membersOver(List<FaultyDevice> disks) {
        List<Member> out = new java.util.ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            out.add(new Member("m" + i, disks.get(i)));
        }
        return out;
    }

    static Throwable failure(CompletableFuture<?> f) {
        return BlockDeviceException.unwrap(assertThrows(CompletionException.class, f::join));
    }

    @Test
    void theLastUpToDateCopyIsNotFailedWithoutForce() throws Exception {
        try (ReplicatedArray a = ReplicatedArray.create(reopenable(members(3, GEOMETRY.memberSize())), GEOMETRY, FROZEN)) {
            a.fail("m0").join();
            a.fail("m1").join();
            Throwable refused = failure(a.fail("m2"));
            assertTrue(refused instanceof IllegalStateException && refused.getMessage().contains("last up-to-date copy"),
                    String.valueOf(refused));
            assertEquals("active", stateOf(a, "m2"));
            a.volume().write(0, Unpooled.wrappedBuffer(data(4096, 1)), 0).join();
            a.fail("m2", true).join();
            assertEquals(ArrayStatus.State.FAILED, a.status().state());
        }
    }

    @Test
    void whenEveryCopyFailedTheOneThatFailedLastComesBackAsTheSourceAndQueuedWritesLand() throws Exception {
        List<FaultyDevice> disks = faultyDisks(3);
        List<Member> ms = membersOver(disks);
        byte[] before = data((int) MIB, 2);
        byte[] during = data(4096, 3);
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FAST)) {
            a.volume().write(0, Unpooled.wrappedBuffer(before), 0).join();
            // Every disk fills up: the write fails everywhere, every copy is failed, and the write waits.
            disks.forEach(d -> d.writes = FaultyDevice.Mode.FAIL);
            CompletableFuture<Void> queued = a.volume().write(0, Unpooled.wrappedBuffer(during), 0);
            Await.until(() -> a.status().state() == ArrayStatus.State.FAILED, "every copy failed: " + a.status());
            Await.until(() -> a.status().queuedRequests() == 1, "the write waits for a copy: " + a.status());
            assertTrue(a.status().outageMillis() >= 0);
            // Space is added: the copies come back by themselves, no restart, no administrator, no client error.
            disks.forEach(d -> d.writes = FaultyDevice.Mode.OK);
            queued.get(20, java.util.concurrent.TimeUnit.SECONDS);
            Await.until(() -> a.status().state() == ArrayStatus.State.ACTIVE, "every copy back: " + a.status());
            a.resyncsDone().join();
            assertArrayEquals(during, Devices.read(a.volume(), 0, 4096));
            assertArrayEquals(java.util.Arrays.copyOfRange(before, 4096, before.length),
                    Devices.read(a.volume(), 4096, before.length - 4096));
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void pastTheQueueTimeoutTheClientGetsEioAndTheArrayRecoversLater() throws Exception {
        List<FaultyDevice> disks = faultyDisks(3);
        List<Member> ms = membersOver(disks);
        byte[] before = data(8192, 4);
        try (ReplicatedArray a = ReplicatedArray.create(ms, GEOMETRY, FAST.withQueueTimeout(java.time.Duration.ofMillis(300)))) {
            a.volume().write(0, Unpooled.wrappedBuffer(before), 0).join();
            disks.forEach(d -> d.writes = FaultyDevice.Mode.FAIL);
            disks.forEach(d -> d.reads = FaultyDevice.Mode.FAIL);
            Throwable e = failure(a.volume().write(0, Unpooled.wrappedBuffer(data(4096, 5)), 0));
            assertEquals(io.nbdvault.core.Errno.EIO, BlockDeviceException.errnoOf(e));
            disks.forEach(d -> d.reads = FaultyDevice.Mode.OK);
            disks.forEach(d -> d.writes = FaultyDevice.Mode.OK);
            Await.until(() -> a.status().state() == ArrayStatus.State.ACTIVE, "every copy back: " + a.status());
            a.resyncsDone().join();
            assertArrayEquals(java.util.Arrays.copyOfRange(before, 4096, 8192), Devices.read(a.volume(), 4096, 4096),
                    "what the failed write did not touch is intact");
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void replaceRefusesAnotherArraysMemberUnlessForced() throws Exception {
        List<Member> other = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(other, GEOMETRY, FROZEN).close();
        BlockDevice foreign = other.get(0).device();
        MemberOpener opener = name -> CompletableFuture.completedFuture(foreign);
        try (ReplicatedArray a = ReplicatedArray.create(reopenable(members(3, GEOMETRY.memberSize())), GEOMETRY,
                FROZEN.withOpener(opener))) {
            Throwable refused = failure(a.replace("m1", "foreign", 0));
            assertTrue(refused.getMessage().contains("already holds nbdvault metadata"), refused.getMessage());
            assertEquals("active", stateOf(a, "m1"), "nothing changed");
            assertEquals(other.get(0).device().size(), foreign.size());
            ReplicatedArray.assemble(other, FROZEN).close();
            a.replace("m1", "foreign", 0, true).join();
            a.resyncsDone().join();
            assertEquals("active", stateOf(a, "foreign"));
        }
    }

    @Test
    void aMemberThatCannotAnswerAtAssemblyIsLeftOutAndJoinsLater() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(base, GEOMETRY, FROZEN).close();
        FaultyDevice hanging = new FaultyDevice(base.get(1).device());
        hanging.reads = FaultyDevice.Mode.HANG;
        Member tiny = new Member("m2", new MemoryDevice(1000));
        MemberOpener opener = name -> CompletableFuture.completedFuture(name.equals("m1") ? base.get(1).device()
                : base.get(2).device());
        try (ReplicatedArray a = ReplicatedArray.assemble(List.of(base.get(0), new Member("m1", hanging), tiny),
                FAST.withOpener(opener))) {
            // Both were left out rather than stopping the volume; both are probed and join.
            a.volume().write(0, Unpooled.wrappedBuffer(data(4096, 4)), 0).join();
            Await.until(() -> a.status().state() == ArrayStatus.State.ACTIVE, "left-out members joined: " + a.status());
            a.resyncsDone().join();
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void twoSidesThatBothServedApartAreRefusedUnlessForced() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(ms, GEOMETRY, FROZEN).close();
        // m1 and m2 serve without m0 and write; then m0 serves alone and writes, three times.
        try (ReplicatedArray pair = ReplicatedArray.assemble(List.of(ms.get(1), ms.get(2)), FROZEN)) {
            pair.volume().write(0, Unpooled.wrappedBuffer(data(4096, 5)), 0).join();
        }
        for (int i = 0; i < 3; i++) {
            try (ReplicatedArray alone = ReplicatedArray.assemble(List.of(ms.get(0)), FROZEN)) {
                alone.volume().write(MIB, Unpooled.wrappedBuffer(data(4096, 6 + i)), 0).join();
            }
        }
        InvalidMetadataException e = assertThrows(InvalidMetadataException.class, () -> ReplicatedArray.assemble(ms, FROZEN));
        assertTrue(e.getMessage().contains("split brain") && e.getMessage().contains("m0")
                && (e.getMessage().contains("m1") || e.getMessage().contains("m2")),
                e.getMessage());
        // The operator keeps m1 and m2's side; m0 then rejoins from them.
        ArrayOptions forced = new ArrayOptions(FROZEN.requestTimeout(), 0, true, FROZEN.bitmapRegionSize(), FROZEN.bitmapIdle(),
                FROZEN.probeInterval(), null);
        ReplicatedArray.assemble(List.of(ms.get(1), ms.get(2)), forced).close();
    }

    @Test
    void anOrdinaryFailureIsNotMistakenForSplitBrain() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(ms, GEOMETRY, FROZEN).close();
        // m0 is missing while the others serve and write; it never served alone.
        try (ReplicatedArray pair = ReplicatedArray.assemble(List.of(ms.get(1), ms.get(2)), FROZEN)) {
            pair.volume().write(0, Unpooled.wrappedBuffer(data(4096, 9)), 0).join();
        }
        try (ReplicatedArray all = ReplicatedArray.assemble(ms, FROZEN)) {
            all.resyncsDone().join();
            assertEquals(ArrayStatus.State.ACTIVE, all.status().state());
            assertArrayEquals(data(4096, 9), Devices.read(ms.get(0).device(), 0, 4096), "m0 caught up from the others");
        }
    }

    @Test
    void membersLeasedByAnotherServerAreRefusedUntilTheLeaseLapses() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(ms, GEOMETRY, FROZEN).close();
        java.util.UUID other = java.util.UUID.randomUUID();
        Lease held = new Lease(other, "storage-gateway-7", 4242, System.currentTimeMillis() + 60_000);
        MetadataIo.writeLease(ms.get(1).device(), held).join();
        InvalidMetadataException e = assertThrows(InvalidMetadataException.class, () -> ReplicatedArray.assemble(ms, FROZEN));
        assertTrue(e.getMessage().contains("m1 is in use by nbdvault pid 4242 on storage-gateway-7"), e.getMessage());
        // A lapsed lease (its server died and never renewed it) is no obstacle.
        MetadataIo.writeLease(ms.get(1).device(), new Lease(other, "storage-gateway-7", 4242, System.currentTimeMillis() - 1)).join();
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, FROZEN)) {
            Lease ours = MetadataIo.readLease(ms.get(1).device()).join();
            assertEquals(Lease.SELF, ours.owner(), "the running array holds every member's lease");
            assertTrue(ours.expiresAtMillis() > System.currentTimeMillis());
        }
        assertEquals(0, MetadataIo.readLease(ms.get(1).device()).join().expiresAtMillis(), "a clean shutdown gives it up");
    }

    @Test
    void aMemberThatServedElsewhereMeanwhileIsNotResyncedOver() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(ms, GEOMETRY, FROZEN).close();
        // m0 was served alone elsewhere meanwhile and wrote there.
        for (int i = 0; i < 5; i++) {
            try (ReplicatedArray alone = ReplicatedArray.assemble(List.of(ms.get(0)), FROZEN)) {
                alone.volume().write(0, Unpooled.wrappedBuffer(data(4096, 20 + i)), 0).join();
            }
        }
        byte[] itsData = Devices.read(ms.get(0).device(), 0, 4096);
        MemberOpener opener = name -> CompletableFuture.completedFuture(ms.get(0).device());
        try (ReplicatedArray a = ReplicatedArray.assemble(List.of(ms.get(1), ms.get(2)), List.of("m0"),
                FROZEN.withOpener(opener))) {
            Throwable refused = failure(a.reAdd("m0"));
            assertTrue(refused.getMessage().contains("served elsewhere"), refused.getMessage());
            assertEquals(List.of("missing", "active", "active"),
                    a.status().members().stream().map(ArrayStatus.MemberStatus::state).toList());
        }
        assertArrayEquals(itsData, Devices.read(ms.get(0).device(), 0, 4096), "nothing was copied over m0");
    }

    /** A copy of {@code from} on a device {@code extra} bytes larger: a member file extended after create. */
    static BlockDevice grownCopy(BlockDevice from, long extra) {
        MemoryDevice to = new MemoryDevice(from.size() + extra);
        for (long at = 0; at < from.size(); at += MIB) {
            io.netty.buffer.ByteBuf b = from.read(at, (int) Math.min(MIB, from.size() - at)).join();
            try {
                to.write(at, b, 0).join();
            } finally {
                b.release();
            }
        }
        return to;
    }

    @Test
    void aMemberGrownAfterCreateIsUsedAsItsFirstBytesNotRefused() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] before = data(4096, 8);
        try (ReplicatedArray a = ReplicatedArray.create(base, GEOMETRY, FROZEN)) {
            a.volume().write(8192, Unpooled.wrappedBuffer(before), 0).join();
        }
        Member grown = reopenable(new Member("m1", grownCopy(base.get(1).device(), 16 * MIB)));
        byte[] after = data(4096, 9);
        try (ReplicatedArray a = ReplicatedArray.assemble(List.of(base.get(0), grown, base.get(2)), FROZEN)) {
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state(), a.status().toString());
            assertEquals("active", stateOf(a, "m1"));
            io.netty.buffer.ByteBuf b = a.volume().read(8192, 4096).join();
            byte[] got = new byte[4096];
            b.readBytes(got);
            b.release();
            assertArrayEquals(before, got);
            a.volume().write(0, Unpooled.wrappedBuffer(after), 0).join();
            assertEquals(0L, a.scrub(false).join());
        }
        // Its metadata stays where it was (the old end), so it assembles again.
        assertEquals(GEOMETRY.memberSize() - ArrayGeometry.METADATA_SIZE,
                MetadataIo.offsetA(new BoundedDevice(grown.device(), GEOMETRY.memberSize())));
        try (ReplicatedArray a = ReplicatedArray.assemble(List.of(grown, base.get(0), base.get(2)), FROZEN)) {
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state(), a.status().toString());
            assertEquals(0L, a.scrub(false).join());
        }

        // A grown device of another array is still refused, and the message says what sizes differ.
        List<Member> other = reopenable(members(3, GEOMETRY.memberSize()));
        ReplicatedArray.create(other, GEOMETRY, FROZEN).close();
        Member foreign = new Member("f1", grownCopy(other.get(1).device(), 16 * MIB));
        InvalidMetadataException refused = assertThrows(InvalidMetadataException.class,
                () -> ReplicatedArray.assemble(List.of(base.get(0), foreign, base.get(2)), FROZEN));
        assertTrue(refused.getMessage().contains("f1") && refused.getMessage().contains("bytes where this array's members have"),
                refused.getMessage());
    }
}
