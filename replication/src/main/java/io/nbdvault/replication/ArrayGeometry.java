package io.nbdvault.replication;

/**
 * Shape of an array: G mirror groups of N copies each, striped in chunks.
 *
 * @param dataSize bytes of the logical volume; each member holds dataSize / groups of it
 */
public record ArrayGeometry(int groups, int copies, int chunkSize, long dataSize) {
    /** Room kept at each member's end for the two superblock copies (and future metadata). */
    public static final long METADATA_SIZE = 1 << 20;

    public ArrayGeometry {
        if (groups < 1 || copies < 1 || groups * copies > Superblock.MAX_MEMBERS) {
            throw new IllegalArgumentException("need 1.." + Superblock.MAX_MEMBERS + " members, got " + groups + " groups of "
                    + copies + " copies");
        }
        if (chunkSize < 4096 || Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunk size must be a power of two of at least 4096");
        }
        if (dataSize <= 0 || dataSize % ((long) chunkSize * groups) != 0) {
            throw new IllegalArgumentException("volume size " + dataSize + " must be a positive multiple of chunk size × groups ("
                    + (long) chunkSize * groups + ")");
        }
    }

    /** Rounds a requested volume size down to what the geometry can hold. */
    public static ArrayGeometry fitting(int groups, int copies, int chunkSize, long requestedSize) {
        long unit = (long) chunkSize * groups;
        return new ArrayGeometry(groups, copies, chunkSize, (requestedSize / unit) * unit);
    }

    /** Bytes of volume data each member stores (from its byte 0). */
    public long memberDataSize() {
        return dataSize / groups;
    }

    /** Bytes each member must have: its data, then the metadata area. */
    public long memberSize() {
        return memberDataSize() + METADATA_SIZE;
    }
}
