package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * The periodic clearing pass of each group's write-intent bitmap (md's bitmap daemon): while a
 * group has every copy in sync, regions idle for a whole period are cleared. One pass per group at
 * a time; a failed pass is reported and tried again next period.
 *
 * <p>Threads: {@link #tick} runs on the control thread and only starts asynchronous work.
 */
final class BitmapClearing {
    private static final Logger LOG = Logger.getLogger(BitmapClearing.class.getName());
    private final ArrayParts parts;
    private final AtomicBoolean[] running;

    BitmapClearing(ArrayParts parts) {
        this.parts = parts;
        this.running = new AtomicBoolean[parts.copies().length];
        java.util.Arrays.setAll(running, g -> new AtomicBoolean());
    }

    void tick() {
        for (int g = 0; g < parts.copies().length; g++) {
            CopySet copies = parts.copies()[g];
            boolean unsettled = parts.integrity() != null && !parts.integrity().settled();
            if (unsettled || !running[g].compareAndSet(false, true)) {
                continue;
            }
            int group = g;
            long events = parts.membership().events();
            // With integrity, the tags of every update done so far are made durable first: a region
            // idle for the whole period had its last update before this began, so its tags are on
            // disk once it completes, and only then may its bit go.
            parts.writeBackTags(group)
                    .thenCompose(x -> {
                        if (!copies.fullyInSync()) {
                            return java.util.concurrent.CompletableFuture.completedFuture(0);
                        }
                        // In sync again: a copy that came back as the last one no longer needs trusting.
                        for (int c = 0; c < copies.count(); c++) {
                            TaggedDevice t = copies.device(c).tagged();
                            if (t != null) {
                                t.trust(java.util.List.of());
                            }
                        }
                        return parts.bitmaps()[group].clearIdle(events, copies::fullyInSync, false);
                    })
                    .whenComplete((n, e) -> {
                        running[group].set(false);
                        if (e != null) {
                            LOG.warning("clearing the bitmap of group " + group + " failed: "
                                    + BlockDeviceException.unwrap(e).getMessage());
                        }
                    });
        }
    }
}
