package io.nbdvault.core;

/** Bit flags for write-like requests; values match nothing on the wire, the NBD codec maps them. */
public final class WriteFlags {
    public static final int NONE = 0;
    /** Forced unit access: durable before completion. */
    public static final int FUA = 1;
    /** Write zeroes must leave the range allocated. */
    public static final int NO_HOLE = 2;
    /** Write zeroes must fail with ENOTSUP instead of falling back to a slow write. */
    public static final int FAST_ZERO = 4;

    private WriteFlags() {
    }

    public static boolean has(int flags, int flag) {
        return (flags & flag) != 0;
    }
}
