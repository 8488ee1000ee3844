package io.nbdvault.crypto;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;
import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Test device: reads and writes complete after a short random delay on another thread. */
final class DelayedDevice extends ForwardingDevice {
    DelayedDevice(BlockDevice below) {
        super(below);
    }

    private static Executor later() {
        return CompletableFuture.delayedExecutor(ThreadLocalRandom.current().nextInt(3), TimeUnit.MILLISECONDS);
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return CompletableFuture.supplyAsync(() -> below.read(offset, length).join(), later());
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        ByteBuf held = data.retainedDuplicate();
        return CompletableFuture.runAsync(() -> below.write(offset, held, flags).join(), later())
                .whenComplete((ok, error) -> held.release());
    }
}
