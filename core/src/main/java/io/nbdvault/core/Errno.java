package io.nbdvault.core;

/** The error numbers the NBD protocol can carry, with their wire values. */
public enum Errno {
    EPERM(1),
    EIO(5),
    ENOMEM(12),
    EINVAL(22),
    ENOSPC(28),
    EOVERFLOW(75),
    ENOTSUP(95),
    ESHUTDOWN(108);

    private final int nbdValue;

    Errno(int nbdValue) {
        this.nbdValue = nbdValue;
    }

    /** Value of the error field in an NBD reply (NBD_EPERM and so on). */
    public int nbdValue() {
        return nbdValue;
    }

    /** Maps a reply's error field back; unknown values become EINVAL as the protocol asks. */
    public static Errno fromNbd(int value) {
        for (Errno e : values()) {
            if (e.nbdValue == value) {
                return e;
            }
        }
        return EINVAL;
    }
}
