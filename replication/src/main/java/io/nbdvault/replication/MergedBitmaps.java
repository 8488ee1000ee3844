package io.nbdvault.replication;

import java.io.IOException;
import java.util.BitSet;
import java.util.logging.Logger;

/**
 * The write-intent bitmaps of the up-to-date members, read at assembly and merged per group (a
 * region dirty on any copy is dirty); invalid when a current member has none or a damaged one
 * (an array made before bitmaps, say), and then every resync copies everything.
 */
record MergedBitmaps(BitmapHeader header, BitSet[] dirty, boolean valid) {
    private static final Logger LOG = Logger.getLogger(MergedBitmaps.class.getName());

    static MergedBitmaps read(ArrayGeometry geometry, Member[] members, boolean[] current, long events,
                              java.time.Duration deadline) {
        BitSet[] dirty = new BitSet[geometry.groups()];
        java.util.Arrays.setAll(dirty, g -> new BitSet());
        BitmapHeader header = null;
        for (int slot = 0; slot < members.length; slot++) {
            if (!current[slot]) {
                continue;
            }
            MetadataIo.LoadedBitmap b;
            try {
                b = ReplicatedArray.join(MetadataIo.readBitmap(
                        new io.nbdvault.core.DeadlineDevice(members[slot].device(), deadline, members[slot].name())));
            } catch (IOException e) {
                LOG.warning("cannot read the bitmap of " + members[slot].name() + ": " + e.getMessage());
                return fresh(geometry, events);
            }
            if (b == null || b.header().regions() != BitmapHeader.regionsFor(geometry.memberDataSize(), b.header().regionSize())
                    || (header != null && header.regionSize() != b.header().regionSize())) {
                LOG.warning(members[slot].name() + " has no usable write-intent bitmap; resyncs will copy everything");
                return fresh(geometry, events);
            }
            if (header == null || b.header().clearedAtEvents() > header.clearedAtEvents()) {
                header = b.header();
            }
            dirty[slot / geometry.copies()].or(b.bits());
        }
        return header == null ? fresh(geometry, events) : new MergedBitmaps(header, dirty, true);
    }

    /** No trustworthy bitmap: start one that no absent member can rely on (cleared "after" every event seen). */
    static MergedBitmaps fresh(ArrayGeometry geometry, long events) {
        BitmapHeader header = BitmapHeader.forData(geometry.memberDataSize(), BitmapHeader.DEFAULT_REGION_SIZE, events + 2);
        BitSet[] all = new BitSet[geometry.groups()];
        java.util.Arrays.setAll(all, g -> {
            BitSet b = new BitSet();
            b.set(0, header.regions());
            return b;
        });
        return new MergedBitmaps(header, all, false);
    }
}
