package io.nbdvault.replication;

import java.util.concurrent.ScheduledExecutorService;

/**
 * What the array's control-plane classes share, wired once by {@link ReplicatedArray}: the
 * membership, per group its copies, bitmap, bitmap store and job queue, the options, and the
 * control thread every membership change runs on, and the integrity context (null without integrity).
 */
record ArrayParts(Membership membership, CopySet[] copies, WriteIntentBitmap[] bitmaps, GroupBitmapStore[] bitmapStores,
                  GroupJobs[] jobs, ArrayOptions options, ScheduledExecutorService control, Availability availability,
                  ArrayIntegrity integrity) {
    ArrayGeometry geometry() {
        return membership.geometry;
    }

    /**
     * With integrity: writes back the tags every live copy of the group holds in memory, durably.
     * A region's bit may be cleared only after this, for the updates it saw, has completed.
     */
    java.util.concurrent.CompletableFuture<Void> writeBackTags(int group) {
        java.util.List<java.util.concurrent.CompletableFuture<Void>> all = new java.util.ArrayList<>();
        CopySet set = copies[group];
        for (int c = 0; c < set.count(); c++) {
            TaggedDevice t = set.device(c).tagged();
            if (t != null && set.isLive(c)) {
                all.add(t.writeBack());
            }
        }
        return io.nbdvault.core.Futures.all(all);
    }

    /** Writes a group's bitmap header and pages to every copy in service (after a copy joined). */
    java.util.concurrent.CompletableFuture<Void> persistBitmap(int group) {
        WriteIntentBitmap b = bitmaps[group];
        return bitmapStores[group].writeHeader(new BitmapHeader(b.regionSize(), b.regions(), b.clearedAtEvents()))
                .thenCompose(x -> b.writeAll());
    }
}
