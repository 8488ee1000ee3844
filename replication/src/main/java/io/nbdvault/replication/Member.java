package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;

/** A replica as the user named it (URI or path) and the device that reaches it. */
public record Member(String name, BlockDevice device) {
}
