package io.nbdvault.replication;

/**
 * Shape of an array: G mirror groups of N copies each, striped in chunks.
 *
 * <p>Each member holds, from byte 0, its data; with integrity, the tags of its data blocks right
 * after it (16 bytes per {@code integrityBlock} bytes, in 4 KiB pages); and the metadata area at
 * its very end.
 *
 * @param dataSize       bytes of the logical volume; each member holds dataSize / groups of it
 * @param integrityBlock bytes per integrity tag (the volume's encryption sector size), 0 without integrity
 */
public record ArrayGeometry(int groups, int copies, int chunkSize, long dataSize, int integrityBlock) {
    /** Room kept at each member's end for the two superblock copies (and future metadata). */
    public static final long METADATA_SIZE = 1 << 20;

    /**
     * Bytes per integrity tag for new arrays: 4 KiB, whatever the encryption sector, so tags take
     * 0.4 % of a member and a tag costs one MAC per 4 KiB (a 512-byte write reads and rewrites its
     * 4 KiB block, which file systems, writing 4 KiB blocks, rarely need).
     */
    public static final int DEFAULT_INTEGRITY_BLOCK = 4096;

    /** Bytes per page of the tag area: the unit tags are read, cached and written in. */
    public static final int TAG_PAGE = 4096;

    public ArrayGeometry(int groups, int copies, int chunkSize, long dataSize) {
        this(groups, copies, chunkSize, dataSize, 0);
    }

    public ArrayGeometry {
        if (integrityBlock != 0 && (integrityBlock < 512 || integrityBlock > 4096 || Integer.bitCount(integrityBlock) != 1)) {
            throw new IllegalArgumentException("integrity block must be 0 (none) or a power of two from 512 to 4096: "
                    + integrityBlock);
        }
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

    public boolean integrity() {
        return integrityBlock != 0;
    }

    /** The same shape with a tag for every {@code block} bytes (0: none). */
    public ArrayGeometry withIntegrity(int block) {
        return new ArrayGeometry(groups, copies, chunkSize, dataSize, block);
    }

    /** Bytes of tags after each member's data: whole pages, 0 without integrity. */
    public long tagAreaSize() {
        if (!integrity()) {
            return 0;
        }
        long tags = memberDataSize() / integrityBlock * BlockMac.TAG;
        return (tags + TAG_PAGE - 1) / TAG_PAGE * TAG_PAGE;
    }

    /** Bytes each member must have: its data, its tags, then the metadata area. */
    public long memberSize() {
        return memberDataSize() + tagAreaSize() + METADATA_SIZE;
    }
}
