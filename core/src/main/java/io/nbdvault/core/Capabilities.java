package io.nbdvault.core;

/**
 * What a device can do. The NBD server turns this into transmission flags; wrapping layers
 * usually pass the lower layer's value through, switching off what they cannot honour.
 */
public record Capabilities(
        boolean readOnly,
        boolean flush,
        boolean fua,
        boolean trim,
        boolean writeZeroes,
        boolean fastZero,
        boolean blockStatus,
        boolean cache,
        boolean multiConn) {

    /** Everything supported, writable, safe for several connections. */
    public static final Capabilities ALL = new Capabilities(false, true, true, true, true, true, true, true, true);

    public Capabilities withReadOnly(boolean value) {
        return new Capabilities(value, flush, fua, trim, writeZeroes, fastZero, blockStatus, cache, multiConn);
    }

    public Capabilities withFastZero(boolean value) {
        return new Capabilities(readOnly, flush, fua, trim, writeZeroes, value, blockStatus, cache, multiConn);
    }

    public Capabilities withMultiConn(boolean value) {
        return new Capabilities(readOnly, flush, fua, trim, writeZeroes, fastZero, blockStatus, cache, value);
    }

    /** The capabilities that hold for every one of several devices combined (mirrors, stripes). */
    public Capabilities and(Capabilities other) {
        return new Capabilities(readOnly || other.readOnly, flush && other.flush, fua && other.fua,
                trim && other.trim, writeZeroes && other.writeZeroes, fastZero && other.fastZero,
                blockStatus && other.blockStatus, cache && other.cache, multiConn && other.multiConn);
    }
}
