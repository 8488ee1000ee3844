package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class ReplicatedArrayTest {
    static final ArrayGeometry ONE_GROUP = new ArrayGeometry(1, 3, 64 * 1024, 4L << 20);
    static final ArrayOptions OPTIONS = new ArrayOptions(Duration.ofMillis(500), 0, false);

    static List<Member> members(int n, long size) {
        List<Member> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Member("m" + i, new MemoryDevice(size)));
        }
        return out;
    }

    /** A member device that survives the array closing it, so a test can assemble it again. */
    static Member reopenable(Member m) {
        return new Member(m.name(), new Unclosable(m.device()));
    }

    static List<Member> reopenable(List<Member> ms) {
        return ms.stream().map(ReplicatedArrayTest::reopenable).toList();
    }

    static byte[] data(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static Superblock superblock(Member m) throws Exception {
        return ReplicatedArray.join(MetadataIo.read(m.device()));
    }

    @Test
    void createWriteCloseAssembleInAnyOrder() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        byte[] d = data(1 << 20, 1);
        try (ReplicatedArray a = ReplicatedArray.create(ms, ONE_GROUP, OPTIONS)) {
            a.volume().write(4096, Unpooled.wrappedBuffer(d), 0).join();
        }
        for (Member m : ms) {
            assertTrue(superblock(m).clean());
            // One group: each member holds the volume itself from byte 0.
            assertArrayEquals(d, io.nbdvault.testing.Devices.read(m.device(), 4096, d.length));
        }
        List<Member> shuffled = new ArrayList<>(ms);
        java.util.Collections.reverse(shuffled);
        try (ReplicatedArray a = ReplicatedArray.assemble(shuffled, OPTIONS)) {
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
            assertArrayEquals(d, io.nbdvault.testing.Devices.read(a.volume(), 4096, d.length));
            assertFalse(superblock(ms.get(0)).clean(), "an assembled array is marked dirty while in use");
        }
    }

    @Test
    void failureIsRecordedInSurvivorsAndTheMemberIsResyncedWhenItReturns() throws Exception {
        List<Member> base = reopenable(members(3, ONE_GROUP.memberSize()));
        FaultyDevice flaky = new FaultyDevice(base.get(1).device());
        List<Member> ms = List.of(base.get(0), new Member("m1", flaky), base.get(2));
        byte[] d = data(512 * 1024, 2);
        try (ReplicatedArray a = ReplicatedArray.create(ms, ONE_GROUP, OPTIONS)) {
            flaky.writes = FaultyDevice.Mode.FAIL;
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
            assertEquals(ArrayStatus.State.DEGRADED, a.status().state());
            assertEquals("failed", a.status().members().get(1).state());
        }
        Superblock survivor = superblock(base.get(0));
        assertEquals(MemberRole.State.FAILED, survivor.roles().get(1).state());
        assertTrue(survivor.events() > superblock(base.get(1)).events(), "survivors carry a newer event counter");

        flaky.writes = FaultyDevice.Mode.OK;
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, OPTIONS)) {
            a.resyncsDone().join();
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
            assertArrayEquals(d, io.nbdvault.testing.Devices.read(base.get(1).device(), 0, d.length), "the returning member caught up");
        }
        assertEquals(MemberRole.State.ACTIVE, superblock(base.get(0)).roles().get(1).state());
    }

    @Test
    void uncleanShutdownResynchronisesCopies() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        byte[] d = data(1 << 20, 3);
        ReplicatedArray crashed = ReplicatedArray.create(ms, ONE_GROUP, OPTIONS);
        crashed.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
        // Simulated crash: never closed; and a write that reached copy 0 only.
        byte[] torn = data(65536, 4);
        ms.get(0).device().write(0, Unpooled.wrappedBuffer(torn), 0).join();
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, OPTIONS)) {
            a.resyncsDone().join();
            for (Member m : ms) {
                assertArrayEquals(torn, io.nbdvault.testing.Devices.read(m.device(), 0, torn.length), m.name() + " agrees after resync");
            }
        }
    }

    @Test
    void foreignMembersAndMissingMetadataAreRefused() throws Exception {
        List<Member> one = reopenable(members(3, ONE_GROUP.memberSize()));
        List<Member> two = reopenable(members(3, ONE_GROUP.memberSize()));
        ReplicatedArray.create(one, ONE_GROUP, OPTIONS).close();
        ReplicatedArray.create(two, ONE_GROUP, OPTIONS).close();
        InvalidMetadataException foreign = assertThrows(InvalidMetadataException.class,
                () -> ReplicatedArray.assemble(List.of(one.get(0), one.get(1), two.get(2)), OPTIONS));
        assertTrue(foreign.getMessage().contains("another array"), foreign.getMessage());
        InvalidMetadataException blank = assertThrows(InvalidMetadataException.class,
                () -> ReplicatedArray.assemble(List.of(new Member("blank", new MemoryDevice(ONE_GROUP.memberSize()))), OPTIONS));
        assertTrue(blank.getMessage().contains("no valid nbdvault superblock"), blank.getMessage());
        IllegalArgumentException tooFew = assertThrows(IllegalArgumentException.class,
                () -> ReplicatedArray.create(one.subList(0, 2), ONE_GROUP, OPTIONS));
        assertTrue(tooFew.getMessage().contains("need 3 members"), tooFew.getMessage());
    }

    @Test
    void missingMemberMeansDegradedNotFailed() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        byte[] d = data(8192, 5);
        try (ReplicatedArray a = ReplicatedArray.create(ms, ONE_GROUP, OPTIONS)) {
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
        }
        try (ReplicatedArray a = ReplicatedArray.assemble(ms.subList(0, 2), OPTIONS)) {
            assertEquals(ArrayStatus.State.DEGRADED, a.status().state());
            assertArrayEquals(d, io.nbdvault.testing.Devices.read(a.volume(), 0, d.length));
        }
    }

    @Test
    void splitBrainIsRefusedUnlessForced() throws Exception {
        ArrayGeometry two = new ArrayGeometry(1, 2, 64 * 1024, 4L << 20);
        List<Member> ms = reopenable(members(2, two.memberSize()));
        ReplicatedArray.create(ms, two, OPTIONS).close();
        Superblock a = superblock(ms.get(0));
        Superblock b = superblock(ms.get(1));
        // Each side carried on alone and recorded the other as failed, reaching the same event count.
        List<MemberRole> aView = List.of(a.roles().get(0), new MemberRole(a.roles().get(1).member(), MemberRole.State.FAILED));
        List<MemberRole> bView = List.of(new MemberRole(a.roles().get(0).member(), MemberRole.State.FAILED), a.roles().get(1));
        MetadataIo.write(ms.get(0).device(), a.withEvents(a.events() + 5, true, aView)).join();
        MetadataIo.write(ms.get(1).device(), b.withEvents(a.events() + 5, true, bView)).join();
        InvalidMetadataException e = assertThrows(InvalidMetadataException.class, () -> ReplicatedArray.assemble(ms, OPTIONS));
        assertTrue(e.getMessage().contains("split brain"), e.getMessage());
        ReplicatedArray.assemble(ms, new ArrayOptions(Duration.ofMillis(500), 0, true)).close();
    }

    @Test
    void aTornSuperblockCopyIsSurvived() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        ReplicatedArray.create(ms, ONE_GROUP, OPTIONS).close();
        BlockDevice d = ms.get(0).device();
        d.write(MetadataIo.offsetA(d) + 100, Unpooled.wrappedBuffer(new byte[64]), 0).join();
        assertThrows(InvalidMetadataException.class, () -> {
            byte[] raw = io.nbdvault.testing.Devices.read(d, MetadataIo.offsetA(d), Superblock.SIZE);
            Superblock.decode(raw);
        });
        ReplicatedArray.assemble(ms, OPTIONS).close();
    }

    @Test
    void twoGroupsOfTwoCopiesStripeAndMirror() throws Exception {
        ArrayGeometry g = new ArrayGeometry(2, 2, 64 * 1024, 8L << 20);
        List<Member> ms = reopenable(members(4, g.memberSize()));
        byte[] d = data(8 << 20, 6);
        try (ReplicatedArray a = ReplicatedArray.create(ms, g, OPTIONS)) {
            assertEquals(8L << 20, a.volume().size());
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
            a.fail(ms.get(0).name()).join();
            assertArrayEquals(d, io.nbdvault.testing.Devices.read(a.volume(), 0, d.length));
        }
        // Chunk 1 of the volume is chunk 0 of group 1: members 2 and 3 hold it at offset 0.
        assertArrayEquals(java.util.Arrays.copyOfRange(d, 65536, 131072), io.nbdvault.testing.Devices.read(ms.get(3).device(), 0, 65536));
    }

    @Test
    void scrubFindsAndRepairsDivergentCopies() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        try (ReplicatedArray a = ReplicatedArray.create(ms, ONE_GROUP, OPTIONS)) {
            a.volume().write(0, Unpooled.wrappedBuffer(data(3 << 20, 7)), 0).join();
            assertEquals(0L, a.scrub(false).join());
            // Silent corruption on two copies, in two different 1 MiB regions.
            ms.get(1).device().write(100, Unpooled.wrappedBuffer(new byte[] {1, 2, 3}), 0).join();
            ms.get(2).device().write((2 << 20) + 5, Unpooled.wrappedBuffer(new byte[] {9}), 0).join();
            assertEquals(2L, a.scrub(false).join(), "a check reports without changing anything");
            assertEquals(2L, a.scrub(true).join());
            assertEquals(0L, a.scrub(false).join(), "after repair the copies agree");
            assertArrayEquals(io.nbdvault.testing.Devices.read(ms.get(0).device(), 0, 3 << 20),
                    io.nbdvault.testing.Devices.read(ms.get(2).device(), 0, 3 << 20));
        }
    }

    @Test
    void membersRecordWhereTheOthersAreSoOneFindsTheRest() throws Exception {
        List<Member> ms = reopenable(members(3, ONE_GROUP.memberSize()));
        ReplicatedArray.create(ms, ONE_GROUP, OPTIONS).close();
        assertEquals(List.of("m1", "m2"), ReplicatedArray.recordedAddresses(List.of(ms.get(0)), Duration.ofSeconds(5)));
        assertEquals(List.of("m0"), ReplicatedArray.recordedAddresses(List.of(ms.get(2), ms.get(1)), Duration.ofSeconds(5)));
        // Assembled without m2: its address is kept in the book, not forgotten.
        ReplicatedArray.assemble(ms.subList(0, 2), OPTIONS).close();
        assertEquals(List.of("m2"), ReplicatedArray.recordedAddresses(List.of(ms.get(0), ms.get(1)), Duration.ofSeconds(5)));
    }
}
