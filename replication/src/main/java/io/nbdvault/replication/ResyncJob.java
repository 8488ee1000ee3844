package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Brings one copy up to date from the readable copies while the volume stays in use: the copy
 * takes writes already (it was put in the syncing state before the job's ranges were chosen, so
 * any write it missed had set its bitmap bit by then); each step reads a region through a mirror of
 * the readable copies (the target is not one) and writes it to the target. Completes with the bytes copied, and the copy then serves reads again. A
 * failure to read a source or write the target fails the target.
 */
final class ResyncJob extends RegionJob {
    private final CopySet copies;
    private final MirroredDevice sources;
    private final int target;

    ResyncJob(CopySet copies, WriteGate gate, int target, List<long[]> ranges, long rate, ProgressListener progress,
              ScheduledExecutorService control) {
        super(gate, ranges, rate, progress, control);
        this.copies = copies;
        this.sources = new MirroredDevice(copies);
        this.target = target;
    }

    @Override
    protected CompletableFuture<Long> step(long pos, int n) {
        if (!copies.isLive(target)) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "copy " + target + " failed during resync"));
        }
        if (copies.readable().isEmpty()) {
            // Failed, so that it is probed and comes back once a source exists, instead of syncing forever.
            BlockDeviceException none = new BlockDeviceException(Errno.EIO, "no up-to-date copy to resync from");
            copies.fail(target, none);
            return CompletableFuture.failedFuture(none);
        }
        // Through the mirror: spread over the sources, and a block one source cannot vouch for comes from another.
        return sources.read(pos, n)
                .thenCompose(data -> copies.device(target).write(pos, data, 0).whenComplete((ok, e) -> data.release()))
                .handle((ok, error) -> {
                    if (error != null) {
                        copies.fail(target, error);
                        throw new java.util.concurrent.CompletionException(BlockDeviceException.unwrap(error));
                    }
                    return (long) n;
                });
    }

    /** Back in service only if it did not fail meanwhile (between the last step and now). */
    @Override
    protected void finished() {
        copies.finishSync(target);
    }
}
