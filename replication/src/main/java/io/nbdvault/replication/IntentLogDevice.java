package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;
import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The write-intent log above one mirror group: every update first waits out a paused
 * {@link WriteGate} (a resync or scrub step copying that moment), then has its regions marked
 * durably in the {@link WriteIntentBitmap}, and only then goes down; its regions are released when
 * it completes. Reads and flushes pass through. Like md's bitmap, this is what lets a returning copy
 * or a crash cost only the regions written meanwhile.
 *
 * <p>Threads: continuations run where the gate opens or the bitmap page write completes (a
 * transport or file thread); the gate and bitmap hold their monitors only for bookkeeping.
 */
final class IntentLogDevice extends ForwardingDevice {
    private final WriteGate gate;
    private final WriteIntentBitmap bitmap;

    private final MirroredDevice mirror;

    IntentLogDevice(MirroredDevice mirror, WriteGate gate, WriteIntentBitmap bitmap) {
        super(mirror);
        this.mirror = mirror;
        this.gate = gate;
        this.bitmap = bitmap;
    }

    private CompletableFuture<Void> logged(long offset, long length, Supplier<CompletableFuture<Void>> update) {
        return gate.enter().thenCompose(x -> bitmap.begin(offset, length)
                        .thenCompose(marked -> update.get())
                        .whenComplete((ok, e) -> bitmap.end(offset, length)))
                .whenComplete((ok, e) -> gate.exit());
    }

    /**
     * A write is acknowledged when the mirror acknowledges it (its write quorum), but its region
     * stays marked, the gate stays entered and the bytes stay held until every copy has it: a
     * crash or a failover before that finds the region in the bitmap.
     */
    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        ByteBuf held = data.retainedDuplicate();
        int length = held.readableBytes();
        return gate.enter().thenCompose(x -> bitmap.begin(offset, length).handle((marked, error) -> {
            if (error != null) {
                bitmap.end(offset, length);
                gate.exit();
                held.release();
                return CompletableFuture.<Void>failedFuture(error);
            }
            QuorumWrite.Outcome outcome;
            try {
                outcome = mirror.writeOutcome(offset, held, flags);
            } catch (RuntimeException e) {
                bitmap.end(offset, length);
                gate.exit();
                held.release();
                return CompletableFuture.<Void>failedFuture(e);
            }
            outcome.settled().whenComplete((ok, e) -> {
                bitmap.end(offset, length);
                gate.exit();
                held.release();
            });
            return outcome.acknowledged();
        }).thenCompose(f -> f));
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return logged(offset, length, () -> below.trim(offset, length, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return logged(offset, length, () -> below.writeZeroes(offset, length, flags));
    }
}
