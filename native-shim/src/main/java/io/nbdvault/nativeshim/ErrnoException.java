package io.nbdvault.nativeshim;

import java.io.IOException;

/** A failed system call, with the errno it set. */
public final class ErrnoException extends IOException {
    private final int errno;

    public ErrnoException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
