package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.DeadlineDevice;
import io.nbdvault.core.Futures;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Gives an array made without integrity its tags, offline (nobody serves it meanwhile): every
 * member records the new geometry in its superblock (version 2, which builds without integrity
 * refuse, as they must) and marks its whole bitmap. The next assembly with the key settles every
 * marked region (see {@link ScrubJob.Mode#SETTLE}): where no tag verifies yet, the content most
 * copies hold is written back to all with its tag, so the copies also end up agreeing. A process
 * killed midway leaves the marks of what it did not reach, and the next unlock goes on.
 */
public final class IntegrityUpgrade {
    private IntegrityUpgrade() {
    }

    /** Prepares the members; the caller then assembles, unlocks and calls {@link ReplicatedArray#enableIntegrity}. */
    public static ArrayGeometry prepare(List<Member> members, int block, ArrayOptions options) throws IOException {
        ArrayAssembly plan = ArrayAssembly.plan(members, options);
        Superblock newest = plan.newest();
        ArrayGeometry from = newest.geometry();
        if (from.integrity()) {
            throw new IllegalStateException("array " + newest.array() + " has integrity tags already");
        }
        boolean complete = plan.leftOut().isEmpty() && plan.resyncs().isEmpty()
                && Arrays.stream(plan.members()).allMatch(m -> m != null)
                && Arrays.stream(plan.states()).allMatch(s -> s == MemberRole.State.ACTIVE);
        if (!complete || !newest.clean()) {
            throw new IllegalStateException("adding integrity needs every member of the array, in sync and shut down "
                    + "cleanly: serve it until it is active and stop it");
        }
        ArrayGeometry to = from.withIntegrity(block);
        for (Member m : plan.members()) {
            if (m.device().size() < to.memberSize()) {
                throw new IllegalArgumentException(m.name() + " has " + m.device().size() + " bytes; with tags a member needs "
                        + to.memberSize() + " (" + to.tagAreaSize() + " more for the tags): grow it first");
            }
        }
        long events = newest.events() + 1;
        BitmapHeader header = plan.bitmaps().header() != null ? plan.bitmaps().header()
                : BitmapHeader.forData(to.memberDataSize(), options.bitmapRegionSize(), events);
        byte[] allMarked = new byte[BitmapHeader.PAGE_SIZE];
        Arrays.fill(allMarked, (byte) 0xff);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (Member m : plan.members()) {
            BlockDevice d = new DeadlineDevice(m.device(), options.requestTimeout(), m.name());
            writes.add(MetadataIo.read(d).thenCompose(sb -> {
                CompletableFuture<Void> w = MetadataIo.writeBitmapHeader(d, header);
                for (int p = 0; p < BitmapHeader.pagesFor(header.regions()); p++) {
                    int page = p;
                    w = w.thenCompose(x -> MetadataIo.writeBitmapPage(d, page, allMarked));
                }
                // The superblock last: until it says "integrity", the member is the old array, unharmed.
                Superblock upgraded = new Superblock(sb.array(), sb.member(), sb.group(), sb.copy(), to, events, true,
                        sb.roles());
                return w.thenCompose(x -> MetadataIo.write(d, upgraded));
            }));
        }
        ReplicatedArray.join(Futures.all(writes));
        return to;
    }
}
