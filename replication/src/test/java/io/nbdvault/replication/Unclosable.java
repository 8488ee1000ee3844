package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;

/** Test wrapper: forwards everything but close, so a member can outlive one array and join the next. */
final class Unclosable extends ForwardingDevice {
    Unclosable(BlockDevice below) {
        super(below);
    }

    @Override
    public void close() {
    }
}
