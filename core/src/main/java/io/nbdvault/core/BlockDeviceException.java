package io.nbdvault.core;

import java.io.IOException;
import java.util.concurrent.CompletionException;

/** A failed block request, with the errno the NBD server sends back for it. */
public class BlockDeviceException extends IOException {
    private final Errno errno;

    public BlockDeviceException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public BlockDeviceException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }

    /** The errno for any failure: ours carry one, anything else is an I/O error. */
    public static Errno errnoOf(Throwable t) {
        Throwable cause = unwrap(t);
        return cause instanceof BlockDeviceException bde ? bde.errno() : Errno.EIO;
    }

    /** Strips the CompletionException wrappers that CompletableFuture adds. */
    public static Throwable unwrap(Throwable t) {
        Throwable cause = t;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }
}
