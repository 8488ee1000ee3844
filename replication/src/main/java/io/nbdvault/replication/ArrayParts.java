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

    /** Writes a group's bitmap header and pages to every copy in service (after a copy joined). */
    java.util.concurrent.CompletableFuture<Void> persistBitmap(int group) {
        WriteIntentBitmap b = bitmaps[group];
        return bitmapStores[group].writeHeader(new BitmapHeader(b.regionSize(), b.regions(), b.clearedAtEvents()))
                .thenCompose(x -> b.writeAll());
    }
}
