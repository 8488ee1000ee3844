package io.nbdvault.nativeshim;

import jnr.ffi.Runtime;

import java.io.IOException;

/**
 * Loads libc once. {@link #available()} is false where it cannot be loaded (not Linux, no jnr-ffi
 * stub for the CPU); callers then fall back to plain Java behaviour.
 */
public final class Native {
    private static final LibC LIBC;
    private static final Runtime RUNTIME;
    private static final Throwable FAILURE;

    static {
        LibC libc = null;
        Runtime runtime = null;
        Throwable failure = null;
        try {
            if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
                throw new UnsupportedOperationException("native calls are only implemented for Linux");
            }
            libc = LibC.load();
            runtime = Runtime.getRuntime(libc);
        } catch (Throwable t) {
            failure = t;
        }
        LIBC = libc;
        RUNTIME = runtime;
        FAILURE = failure;
    }

    private Native() {
    }

    public static boolean available() {
        return LIBC != null;
    }

    /** Why native calls are unavailable, or null. */
    public static String unavailableReason() {
        return FAILURE == null ? null : String.valueOf(FAILURE.getMessage());
    }

    static LibC libc() {
        if (LIBC == null) {
            throw new UnsupportedOperationException("native calls unavailable: " + unavailableReason());
        }
        return LIBC;
    }

    static Runtime runtime() {
        libc();
        return RUNTIME;
    }

    static int errno() {
        return RUNTIME.getLastError();
    }

    /** An IOException naming the call, its subject and the system's error text. */
    static IOException failure(String call, Object subject, int errno) {
        return new ErrnoException(call + "(" + subject + ") failed: " + LIBC.strerror(errno) + " (errno " + errno + ")", errno);
    }
}
