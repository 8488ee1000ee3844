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
            if (unsettled || !copies.fullyInSync() || !running[g].compareAndSet(false, true)) {
                continue;
            }
            int group = g;
            parts.bitmaps()[g].clearIdle(parts.membership().events(), copies::fullyInSync, false).whenComplete((n, e) -> {
                running[group].set(false);
                if (e != null) {
                    LOG.warning("clearing the bitmap of group " + group + " failed: " + BlockDeviceException.unwrap(e).getMessage());
                }
            });
        }
    }
}
