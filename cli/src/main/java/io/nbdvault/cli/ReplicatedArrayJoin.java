package io.nbdvault.cli;

import io.nbdvault.core.BlockDeviceException;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Waits for a replica to open, turning failures into one clear IOException naming it. */
final class ReplicatedArrayJoin {
    private ReplicatedArrayJoin() {
    }

    static <T> T join(CompletableFuture<T> f, String what) throws IOException {
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable cause = BlockDeviceException.unwrap(e);
            throw new IOException(what + ": " + cause.getMessage(), cause);
        }
    }
}
