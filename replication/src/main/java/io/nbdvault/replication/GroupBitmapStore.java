package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * Writes one mirror group's bitmap to the metadata area of each of its copies in service. A copy
 * that cannot take a bitmap write is failed (its bitmap would lie); the write fails only if no
 * copy took it.
 */
final class GroupBitmapStore implements WriteIntentBitmap.Store {
    /** The group's copies as the array sees them. */
    interface Copies {
        /** Copies that take writes (in sync or being resynchronised), with their whole raw device. */
        List<Integer> inService();

        BlockDevice raw(int copy);

        void fail(int copy, Throwable cause);
    }

    private final Copies copies;
    private final Duration timeout;

    GroupBitmapStore(Copies copies, Duration timeout) {
        this.copies = copies;
        this.timeout = timeout;
    }

    @Override
    public CompletableFuture<Void> writePage(int page, byte[] bytes) {
        return onEach(d -> MetadataIo.writeBitmapPage(d, page, bytes), false);
    }

    @Override
    public CompletableFuture<Void> writeHeader(BitmapHeader header) {
        return onEach(d -> MetadataIo.writeBitmapHeader(d, header), false);
    }

    @Override
    public CompletableFuture<Void> flushCopies() {
        return onEach(BlockDevice::flush, true);
    }

    private CompletableFuture<Void> onEach(Function<BlockDevice, CompletableFuture<Void>> op, boolean requireAll) {
        List<Integer> targets = copies.inService();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no copy in service for the bitmap"));
        }
        List<CompletableFuture<Boolean>> results = new ArrayList<>();
        for (int copy : targets) {
            CompletableFuture<Void> f;
            try {
                f = op.apply(copies.raw(copy));
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            results.add(io.nbdvault.core.Timeouts.within(f, timeout.toMillis()).handle((ok, error) -> {
                if (error != null) {
                    copies.fail(copy, error);
                    return false;
                }
                return true;
            }));
        }
        return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).thenApply(x -> {
            long succeeded = results.stream().filter(CompletableFuture::join).count();
            if (succeeded == 0 || (requireAll && succeeded < results.size())) {
                throw new CompletionException(new BlockDeviceException(Errno.EIO, "bitmap update failed on "
                        + (results.size() - succeeded) + " of " + results.size() + " copies"));
            }
            return null;
        });
    }
}
