package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.ForwardingDevice;
import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/**
 * On top of an array with integrity: refuses updates until the volume key has been given (no tag
 * could be written for them), at the top, so that a refused update never reaches a copy and fails
 * it. Reads pass: the LUKS header is read to unlock the volume.
 */
final class KeyGateDevice extends ForwardingDevice {
    private final ArrayIntegrity integrity;

    KeyGateDevice(BlockDevice below, ArrayIntegrity integrity) {
        super(below);
        this.integrity = integrity;
    }

    private <T> CompletableFuture<T> locked() {
        return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EPERM,
                "the array keeps integrity tags: it takes no updates until the volume is unlocked"));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return integrity.mac() == null ? locked() : below.write(offset, data, flags);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return integrity.mac() == null ? locked() : below.trim(offset, length, flags);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return integrity.mac() == null ? locked() : below.writeZeroes(offset, length, flags);
    }
}
