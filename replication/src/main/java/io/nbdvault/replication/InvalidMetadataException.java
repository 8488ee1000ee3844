package io.nbdvault.replication;

import java.io.IOException;

/** Replication metadata that is missing, corrupt, or does not fit the array being assembled. */
public final class InvalidMetadataException extends IOException {
    public InvalidMetadataException(String message) {
        super(message);
    }
}
