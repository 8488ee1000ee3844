package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.testing.Devices;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;

import static io.nbdvault.replication.ReplicatedArrayTest.data;
import static io.nbdvault.replication.ReplicatedArrayTest.members;
import static io.nbdvault.replication.ReplicatedArrayTest.reopenable;
import static io.nbdvault.replication.ReplicatedArrayTest.superblock;
import static io.nbdvault.replication.WriteIntentBitmapTest.FROZEN;
import static io.nbdvault.replication.WriteIntentBitmapTest.MIB;
import static io.nbdvault.replication.WriteIntentBitmapTest.member;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Copies altered behind the array's back (rot, tampering, a block moved, a tag changed) never get
 * their bytes to a reader: the block comes from a copy that verifies and the bad copy is rewritten;
 * when none verifies the reader gets EIO. Memory members; the CLI tests do the same on files and nbdkit.
 */
@Timeout(60)
class IntegrityTest {
    static final int BLOCK = 4096;
    static final ArrayGeometry GEOMETRY = new ArrayGeometry(1, 3, 64 * 1024, 8 * MIB, BLOCK);
    static final byte[] KEY = data(64, 42);

    static ReplicatedArray armed(ReplicatedArray a) throws Exception {
        a.enableIntegrity(ByteBuffer.wrap(KEY));
        return a;
    }

    /** Flips one byte of member {@code m}'s data at {@code offset}, behind the array's back. */
    static void rot(Member m, long offset) {
        byte[] b = Devices.read(m.device(), offset, 1);
        b[0] ^= 0x5a;
        m.device().write(offset, Unpooled.wrappedBuffer(b), 0).join();
    }

    static long tagOffset(long dataOffset) {
        return GEOMETRY.memberDataSize() + dataOffset / BLOCK * BlockMac.TAG;
    }

    /** Reads the whole range one block at a time, many times over, so every copy serves each block. */
    static void readEveryBlockFromEveryCopy(ReplicatedArray a, long offset, byte[] expected) {
        for (int round = 0; round < 200; round++) {
            for (int at = 0; at < expected.length; at += BLOCK) {
                byte[] got = Devices.read(a.volume(), offset + at, BLOCK);
                assertArrayEquals(java.util.Arrays.copyOfRange(expected, at, at + BLOCK), got, "block at " + (offset + at));
            }
        }
    }

    @Test
    void aRottedBlockOnOneCopyIsReadFromAnotherAndRewritten() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(256 * 1024, 1);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(MIB, Unpooled.wrappedBuffer(d), 0).join();
            rot(ms.get(1), MIB + 5 * BLOCK + 17);
            rot(ms.get(1), MIB + 40 * BLOCK);
            readEveryBlockFromEveryCopy(a, MIB, d);
            ArrayStatus.MemberStatus m1 = member(a, "m1");
            assertEquals(2, m1.corruptBlocks(), "both altered blocks detected once");
            assertEquals(2, m1.repairedBlocks(), "and both rewritten from a good copy");
            assertEquals(0, member(a, "m0").corruptBlocks());
            assertEquals("active", m1.state(), "two bad blocks do not fail a copy");
            assertArrayEquals(d, Devices.read(ms.get(1).device(), MIB, d.length), "the bad copy was repaired");
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void aBlockMovedToAnotherAddressOrATagChangedIsDetected() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(64 * 1024, 2);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(2 * MIB, Unpooled.wrappedBuffer(d), 0).join();
            a.volume().flush().join();
        }
        Member m0 = ms.get(0);
        // Block 3 of the range moved over block 7, with its tag: valid bytes, valid tag, wrong place.
        long from = 2 * MIB + 3 * BLOCK;
        long to = 2 * MIB + 7 * BLOCK;
        m0.device().write(to, Unpooled.wrappedBuffer(Devices.read(m0.device(), from, BLOCK)), 0).join();
        m0.device().write(tagOffset(to), Unpooled.wrappedBuffer(Devices.read(m0.device(), tagOffset(from), BlockMac.TAG)), 0)
                .join();
        // And a tag alone altered (block 9).
        long tagged = 2 * MIB + 9 * BLOCK;
        rot(m0, tagOffset(tagged) + 3);
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            readEveryBlockFromEveryCopy(a, 2 * MIB, d);
            assertEquals(2, member(a, "m0").corruptBlocks());
            assertEquals(2, member(a, "m0").repairedBlocks());
        }
    }

    @Test
    void withTwoOfThreeCopiesAlteredTheThirdWinsAndWithAllAlteredTheReaderGetsEio() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(64 * 1024, 3);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
            long two = 4 * BLOCK;
            rot(ms.get(0), two + 100);
            rot(ms.get(2), two + 100);
            assertArrayEquals(java.util.Arrays.copyOfRange(d, (int) two, (int) two + BLOCK), Devices.read(a.volume(), two, BLOCK));
            assertArrayEquals(java.util.Arrays.copyOfRange(d, (int) two, (int) two + BLOCK), Devices.read(a.volume(), two, BLOCK));

            long all = 10 * BLOCK;
            ms.forEach(m -> rot(m, all + 7));
            CompletionException e = assertThrows(CompletionException.class, () -> a.volume().read(all, BLOCK).join());
            assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e), "never unverified bytes");
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state(), "the copies stay in service for every other block");
            // The blocks around it still read.
            assertArrayEquals(java.util.Arrays.copyOfRange(d, 0, BLOCK), Devices.read(a.volume(), 0, BLOCK));
        }
    }

    @Test
    void scrubRepairsFromAVerifyingCopyEvenWhenTheMajorityIsBad() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(128 * 1024, 4);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(3 * MIB, Unpooled.wrappedBuffer(d), 0).join();
            // The same alteration on two copies: a majority vote would pick it; the tags do not.
            byte[] forged = data(BLOCK, 99);
            for (Member m : List.of(ms.get(0), ms.get(1))) {
                m.device().write(3 * MIB + 8 * BLOCK, Unpooled.wrappedBuffer(forged), 0).join();
            }
            rot(ms.get(2), 3 * MIB + 20 * BLOCK);
            assertEquals(3L, a.scrub(false).join(), "three bad blocks found");
            assertEquals(1, member(a, "m0").corruptBlocks());
            assertEquals(1, member(a, "m1").corruptBlocks());
            assertEquals(1, member(a, "m2").corruptBlocks());
            assertEquals(3L, a.scrub(true).join());
            assertEquals(0L, a.scrub(false).join());
            for (Member m : ms) {
                assertArrayEquals(d, Devices.read(m.device(), 3 * MIB, d.length), m.name() + " repaired");
            }
        }
    }

    @Test
    void aCopyThatKeepsFailingItsChecksIsFailed() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data((int) MIB, 5);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
            // The whole first MiB of copy 2 replaced by garbage: 256 bad blocks, above the threshold.
            ms.get(2).device().write(0, Unpooled.wrappedBuffer(data((int) MIB, 6)), 0).join();
            readEveryBlockFromEveryCopy(a, 0, java.util.Arrays.copyOf(d, 128 * BLOCK));
            assertEquals("failed", member(a, "m2").state());
            assertEquals(ArrayStatus.State.DEGRADED, a.status().state());
        }
    }

    @Test
    void aCrashBetweenDataAndTagIsSettledWithoutReportingCorruption() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(256 * 1024, 7);
        armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN)).close();
        ReplicatedArray crashed = armed(ReplicatedArray.assemble(ms, FROZEN));
        crashed.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
        // The crash: never closed. In flight at that moment, with their bits set: a write whose
        // data reached every copy but no tag did, and one whose data reached copy 0 only.
        byte[] everywhere = data(2 * BLOCK, 8);
        crashed.bitmapForTest(0).begin(5 * MIB, everywhere.length).join();
        ms.forEach(m -> m.device().write(5 * MIB, Unpooled.wrappedBuffer(everywhere), 0).join());
        byte[] onCopy0 = data(BLOCK, 9);
        crashed.bitmapForTest(0).begin(6 * MIB, onCopy0.length).join();
        ms.get(0).device().write(6 * MIB, Unpooled.wrappedBuffer(onCopy0), 0).join();
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            a.resyncsDone().join();
            assertArrayEquals(everywhere, Devices.read(a.volume(), 5 * MIB, everywhere.length),
                    "the write every copy holds is kept: not acknowledged, but not damage either");
            // As without integrity, the first copy is the source after a crash: its half-written
            // block is re-tagged (no other copy in sync could vouch for anything newer) and copied.
            assertArrayEquals(onCopy0, Devices.read(a.volume(), 6 * MIB, BLOCK));
            for (Member m : ms) {
                assertArrayEquals(onCopy0, Devices.read(m.device(), 6 * MIB, BLOCK), m.name());
            }
            assertArrayEquals(d, Devices.read(a.volume(), 0, d.length));
            for (ArrayStatus.MemberStatus m : a.status().members()) {
                assertEquals(0, m.corruptBlocks(), m.name() + ": a crash is not corruption");
            }
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void regionsLeftMarkedByACrashStayMarkedUntilTheyAreSettled() throws Exception {
        // One copy: nothing to resync after the crash, so only the settling keeps the marks.
        ArrayGeometry single = new ArrayGeometry(1, 1, 64 * 1024, 8 * MIB, BLOCK);
        List<Member> ms = reopenable(members(1, single.memberSize()));
        armed(ReplicatedArray.create(ms, single, FROZEN)).close();
        ReplicatedArray crashed = armed(ReplicatedArray.assemble(ms, FROZEN));
        byte[] torn = data(BLOCK, 13);
        crashed.bitmapForTest(0).begin(2 * MIB, torn.length).join();
        ms.forEach(m -> m.device().write(2 * MIB, Unpooled.wrappedBuffer(torn), 0).join());
        // Assembled and closed again without the key (a wrong passphrase, say): nothing is settled,
        // so the marks must survive, or the half-written block would be unreadable for good.
        ReplicatedArray.assemble(ms, FROZEN).close();
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            assertArrayEquals(torn, Devices.read(a.volume(), 2 * MIB, BLOCK));
        }
    }

    @Test
    void tagsAreDurableBeforeTheBitmapForgetsTheirRegion() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        armed(ReplicatedArray.create(ms, GEOMETRY, WriteIntentBitmapTest.FAST)).close();
        ReplicatedArray crashed = armed(ReplicatedArray.assemble(ms, WriteIntentBitmapTest.FAST));
        byte[] d = data(64 * 1024, 15);
        crashed.volume().write(3 * MIB, Unpooled.wrappedBuffer(d), 0).join();
        // Tags are written back lazily; the region's bit goes only once they are durable.
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (crashed.status().dirtyRegions().get(0) > 0) {
            assertTrue(System.nanoTime() < deadline, "the bitmap is cleared once the region is idle");
            Thread.sleep(20);
        }
        // The crash: never closed. Nothing is marked, so nothing will be settled: the tags must be there.
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            a.resyncsDone().join();
            assertArrayEquals(d, Devices.read(a.volume(), 3 * MIB, d.length));
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void aCopyBackAsTheLastOneServesWritesWhoseTagsItNeverGotToWrite() throws Exception {
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        List<FaultyDevice> disks = base.stream().map(m -> new FaultyDevice(m.device())).toList();
        List<io.nbdvault.core.ForwardingDevice> tagless = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean tagsFail = new java.util.concurrent.atomic.AtomicBoolean();
        List<Member> ms = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            // Tag pages never reach these disks while tagsFail is set: the tags live only in memory.
            io.nbdvault.core.ForwardingDevice d = new io.nbdvault.core.ForwardingDevice(disks.get(i)) {
                @Override
                public java.util.concurrent.CompletableFuture<Void> write(long offset, io.netty.buffer.ByteBuf data, int flags) {
                    if (tagsFail.get() && offset >= GEOMETRY.memberDataSize() && offset < GEOMETRY.memberDataSize()
                            + GEOMETRY.tagAreaSize()) {
                        return java.util.concurrent.CompletableFuture.failedFuture(
                                new BlockDeviceException(Errno.EIO, "tag area unwritable"));
                    }
                    return super.write(offset, data, flags);
                }
            };
            tagless.add(d);
            ms.add(new Member("m" + i, d));
        }
        byte[] before = data((int) MIB, 18);
        byte[] during = data(BLOCK, 19);
        // Members come back as new connections (as a restarted replica does): nothing of the old one is kept.
        MemberOpener reconnect = name -> java.util.concurrent.CompletableFuture.completedFuture(
                new io.nbdvault.core.ForwardingDevice(tagless.get(Integer.parseInt(name.substring(1)))) { });
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, WriteIntentBitmapTest.FAST.withOpener(reconnect)))) {
            tagsFail.set(true);
            a.volume().write(0, Unpooled.wrappedBuffer(before), 0).join();
            // Every disk fills up: every copy is failed, with the tags of that write still in memory.
            disks.forEach(d -> d.writes = FaultyDevice.Mode.FAIL);
            java.util.concurrent.CompletableFuture<Void> queued = a.volume().write(0, Unpooled.wrappedBuffer(during), 0);
            io.nbdvault.testing.Await.until(() -> a.status().state() == ArrayStatus.State.FAILED, "every copy failed");
            tagsFail.set(false);
            disks.forEach(d -> d.writes = FaultyDevice.Mode.OK);
            queued.get(20, java.util.concurrent.TimeUnit.SECONDS);
            io.nbdvault.testing.Await.until(() -> a.status().state() == ArrayStatus.State.ACTIVE, "every copy back");
            a.resyncsDone().join();
            assertArrayEquals(during, Devices.read(a.volume(), 0, BLOCK));
            assertArrayEquals(java.util.Arrays.copyOfRange(before, BLOCK, before.length),
                    Devices.read(a.volume(), BLOCK, before.length - BLOCK));
            assertEquals(0L, a.scrub(false).join());
        }
    }

    @Test
    void updatesWaitForTheKeyAndReadsOfTheHeaderDoNot() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data(BLOCK, 10);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
        }
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, FROZEN)) {
            assertTrue(a.hasIntegrity());
            assertArrayEquals(d, Devices.read(a.volume(), 0, BLOCK), "the LUKS header is read before the unlock");
            assertThrows(CompletionException.class, () -> a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join());
            a.enableIntegrity(ByteBuffer.wrap(KEY));
            a.volume().write(0, Unpooled.wrappedBuffer(d), 0).join();
        }
    }

    @Test
    void anArrayMadeWithoutTagsIsUpgradedInPlaceAndKeepsItsData() throws Exception {
        ArrayGeometry plain = new ArrayGeometry(1, 3, 64 * 1024, 8 * MIB);
        List<Member> small = reopenable(members(3, plain.memberSize()));
        ReplicatedArray.create(small, plain, FROZEN).close();
        IllegalArgumentException noRoom = assertThrows(IllegalArgumentException.class,
                () -> IntegrityUpgrade.prepare(small, BLOCK, FROZEN));
        assertTrue(noRoom.getMessage().contains("grow it first"), noRoom.getMessage());

        // Members with room for the tags (as after growing them), holding a volume made without tags.
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data((int) MIB, 14);
        try (ReplicatedArray a = ReplicatedArray.create(ms, plain, FROZEN)) {
            a.volume().write(MIB, Unpooled.wrappedBuffer(d), 0).join();
        }
        // One copy disagrees before the upgrade: the content most copies hold is what gets tagged.
        rot(ms.get(2), MIB + 4096 * 3);
        assertEquals(GEOMETRY, IntegrityUpgrade.prepare(ms, BLOCK, FROZEN));
        assertThrows(IllegalStateException.class, () -> IntegrityUpgrade.prepare(ms, BLOCK, FROZEN), "only once");
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            assertTrue(a.hasIntegrity());
            assertArrayEquals(d, Devices.read(a.volume(), MIB, d.length));
            for (Member m : ms) {
                assertArrayEquals(d, Devices.read(m.device(), MIB, d.length), m.name() + " agrees");
            }
            assertEquals(0L, a.scrub(false).join());
        }
        rot(ms.get(0), MIB + 100);
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(ms, FROZEN))) {
            assertEquals(1L, a.scrub(false).join(), "the upgraded array's tags catch what they must");
        }
    }

    @Test
    void writesSmallerThanABlockAreMergedIntoItEvenWhenTheyRace() throws Exception {
        List<Member> ms = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] model = data(64 * 1024, 16);
        try (ReplicatedArray a = armed(ReplicatedArray.create(ms, GEOMETRY, FROZEN))) {
            a.volume().write(MIB, Unpooled.wrappedBuffer(model), 0).join();
            java.util.Random r = new java.util.Random(17);
            List<java.util.concurrent.CompletableFuture<Void>> racing = new java.util.ArrayList<>();
            // Eight sectors of one block written at once, and a few anywhere else.
            for (int s = 0; s < 8; s++) {
                byte[] sector = data(512, 100 + s);
                System.arraycopy(sector, 0, model, 4096 * 3 + 512 * s, 512);
                racing.add(a.volume().write(MIB + 4096 * 3 + 512 * s, Unpooled.wrappedBuffer(sector), 0));
            }
            for (int n = 0; n < 20; n++) {
                int at = r.nextInt(model.length / 512) * 512;
                if (at / 4096 == 3) {
                    continue;
                }
                byte[] sector = data(512, 200 + n);
                racing.get(0).join();
                a.volume().write(MIB + at, Unpooled.wrappedBuffer(sector), 0).join();
                System.arraycopy(sector, 0, model, at, 512);
            }
            racing.forEach(java.util.concurrent.CompletableFuture::join);
            assertArrayEquals(model, Devices.read(a.volume(), MIB, model.length));
            assertEquals(0L, a.scrub(false).join(), "every copy verifies, and they agree");
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
        }
    }

    @Test
    void anUpgradeThatStoppedPartWayIsFinishedByTheNextAssembly() throws Exception {
        ArrayGeometry plain = new ArrayGeometry(1, 3, 64 * 1024, 8 * MIB);
        List<Member> base = reopenable(members(3, GEOMETRY.memberSize()));
        byte[] d = data((int) MIB, 20);
        try (ReplicatedArray a = ReplicatedArray.create(base, plain, FROZEN)) {
            a.volume().write(2 * MIB, Unpooled.wrappedBuffer(d), 0).join();
        }
        // The process dies while the members get their new metadata: the third one never does.
        FaultyDevice third = new FaultyDevice(base.get(2).device());
        third.writes = FaultyDevice.Mode.FAIL;
        List<Member> interrupted = List.of(base.get(0), base.get(1), new Member("m2", third));
        assertThrows(java.io.IOException.class, () -> IntegrityUpgrade.prepare(interrupted, BLOCK, FROZEN));
        assertFalse(superblock(base.get(2)).geometry().integrity(), "the third member is still the old array's");
        try (ReplicatedArray a = armed(ReplicatedArray.assemble(base, FROZEN))) {
            a.resyncsDone().join();
            assertEquals(ArrayStatus.State.ACTIVE, a.status().state());
            assertArrayEquals(d, Devices.read(a.volume(), 2 * MIB, d.length));
            assertEquals(0L, a.scrub(false).join(), "every copy, the one left behind included, verifies and agrees");
        }
    }

    @Test
    void anArrayWithoutIntegrityHasNoTagsAndAVersion1Superblock() throws Exception {
        ArrayGeometry plain = new ArrayGeometry(1, 3, 64 * 1024, 8 * MIB);
        assertEquals(0, plain.tagAreaSize());
        assertEquals(8 * MIB / BLOCK * BlockMac.TAG, GEOMETRY.tagAreaSize());
        List<Member> ms = reopenable(members(3, plain.memberSize()));
        ReplicatedArray.create(ms, plain, FROZEN).close();
        byte[] sb = Devices.read(ms.get(0).device(), MetadataIo.offsetA(ms.get(0).device()), Superblock.SIZE);
        assertEquals(Superblock.VERSION, ByteBuffer.wrap(sb, 8, 4).getInt(), "readable by builds without integrity");
        try (ReplicatedArray a = ReplicatedArray.assemble(ms, FROZEN)) {
            assertFalse(a.hasIntegrity());
        }
    }

    @Test
    void tagsBindTheBlockToItsAddressGroupAndArray() {
        UUID array = UUID.randomUUID();
        BlockMac mac = BlockMac.derive(KEY, array, BLOCK);
        io.netty.buffer.ByteBuf block = Unpooled.wrappedBuffer(data(BLOCK, 11));
        byte[] a = new byte[16];
        byte[] b = new byte[16];
        mac.tags(block, 0, 1, 5, 0, a, 0);
        mac.tags(block, 0, 1, 5, 0, b, 0);
        assertArrayEquals(a, b, "deterministic: every copy holds the same tag");
        mac.tags(block, 0, 1, 6, 0, b, 0);
        assertNotEquals(java.util.HexFormat.of().formatHex(a), java.util.HexFormat.of().formatHex(b), "another address");
        mac.tags(block, 0, 1, 5, 1, b, 0);
        assertNotEquals(java.util.HexFormat.of().formatHex(a), java.util.HexFormat.of().formatHex(b), "another group");
        BlockMac.derive(KEY, UUID.randomUUID(), BLOCK).tags(block, 0, 1, 5, 0, b, 0);
        assertNotEquals(java.util.HexFormat.of().formatHex(a), java.util.HexFormat.of().formatHex(b), "another array");
        byte[] zero = new byte[16];
        mac.zeroTags(1, 5, 0, zero, 0);
        mac.tags(Unpooled.wrappedBuffer(new byte[BLOCK]), 0, 1, 5, 0, b, 0);
        assertArrayEquals(zero, b, "the shortcut for zero blocks is the same MAC");
        // Many blocks at once give what one at a time gives.
        io.netty.buffer.ByteBuf many = Unpooled.wrappedBuffer(data(40 * BLOCK, 12));
        byte[] batch = new byte[40 * 16];
        mac.tags(many, 0, 40, 100, 2, batch, 0);
        for (int i = 0; i < 40; i++) {
            mac.tags(many, i * BLOCK, 1, 100 + i, 2, b, 0);
            assertArrayEquals(b, java.util.Arrays.copyOfRange(batch, i * 16, i * 16 + 16));
        }
        // Blocks gathered from several socket reads, cut anywhere, give the tags of the same bytes in one piece.
        io.netty.buffer.CompositeByteBuf pieces = Unpooled.compositeBuffer(64);
        for (int at = 0, k = 0; at < 40 * BLOCK; k++) {
            int n = Math.min(k % 2 == 0 ? 1000 : 7777, 40 * BLOCK - at);
            pieces.addComponent(true, many.retainedSlice(at, n));
            at += n;
        }
        byte[] gathered = new byte[40 * 16];
        mac.tags(pieces, 0, 40, 100, 2, gathered, 0);
        assertArrayEquals(batch, gathered);
        mac.tags(pieces, 3 * BLOCK, 1, 103, 2, b, 0);
        assertArrayEquals(java.util.Arrays.copyOfRange(batch, 3 * 16, 4 * 16), b);
        pieces.release();
    }
}
