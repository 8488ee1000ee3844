package io.nbdvault.core;

/**
 * A run of bytes with the same allocation state, as NBD's {@code base:allocation} reports it.
 *
 * @param length bytes in the run, positive
 * @param flags  {@link #HOLE} and/or {@link #ZERO}; 0 for allocated data
 */
public record Extent(long length, int flags) {
    /** Not allocated (NBD_STATE_HOLE). */
    public static final int HOLE = 1;
    /** Reads as zeroes (NBD_STATE_ZERO). */
    public static final int ZERO = 2;

    public Extent {
        if (length <= 0) {
            throw new IllegalArgumentException("extent length must be positive: " + length);
        }
        if ((flags & ~(HOLE | ZERO)) != 0) {
            throw new IllegalArgumentException("unknown extent flags: " + flags);
        }
    }

    public static Extent data(long length) {
        return new Extent(length, 0);
    }

    public static Extent hole(long length) {
        return new Extent(length, HOLE | ZERO);
    }

    public static Extent zero(long length) {
        return new Extent(length, ZERO);
    }
}
