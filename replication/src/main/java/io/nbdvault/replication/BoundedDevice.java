package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;

/** The first {@code size} bytes of a member: its data area, keeping the metadata at its end out of reach. */
final class BoundedDevice extends ForwardingDevice {
    private final long size;

    BoundedDevice(BlockDevice below, long size) {
        super(below);
        if (size > below.size()) {
            throw new IllegalArgumentException("member " + below + " has " + below.size() + " bytes, needs " + size);
        }
        this.size = size;
    }

    @Override
    public long size() {
        return size;
    }
}
