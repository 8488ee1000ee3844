package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;

/**
 * A copy's blocks failed their integrity check: the copy answered, but with bytes it cannot vouch
 * for (rot, tampering, a block moved). Not an I/O error of the copy: the mirror reads the range
 * from another copy and rewrites this one; {@code memberTotal} lets it fail a copy that keeps
 * returning bad blocks.
 */
final class CorruptBlocksException extends BlockDeviceException {
    private final long memberTotal;

    CorruptBlocksException(String message, long memberTotal) {
        super(Errno.EIO, message);
        this.memberTotal = memberTotal;
    }

    long memberTotal() {
        return memberTotal;
    }
}
