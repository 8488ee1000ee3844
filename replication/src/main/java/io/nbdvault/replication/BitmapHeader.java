package io.nbdvault.replication;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The write-intent bitmap's header in each member's metadata area: region size, region count and
 * the event counter of the last clearing pass (md's events_cleared). A copy whose own event
 * counter is below that value left before bits were cleared, so the bitmap no longer covers what
 * it missed and it needs a full resync.
 *
 * <p>Metadata area layout: superblock A (4 KiB), superblock B (4 KiB), this header (4 KiB), then
 * the bitmap, 4 KiB pages of 32768 bits each, bit r of the group's data regions at bit (r mod
 * 32768) of page r / 32768, least significant bit first.
 */
public record BitmapHeader(long regionSize, int regions, long clearedAtEvents) {
    static final byte[] MAGIC = "NBDVBMAP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int PAGE_SIZE = 4096;
    static final int BITS_PER_PAGE = PAGE_SIZE * 8;
    static final int MAX_REGIONS = 16 * BITS_PER_PAGE;
    /** Where the header sits in the metadata area, after the two superblocks. */
    static final long HEADER_OFFSET = 2L * Superblock.SIZE;
    static final long PAGES_OFFSET = HEADER_OFFSET + PAGE_SIZE;
    /** md's default bitmap chunk for large arrays is 64 MiB; smaller regions resync less after a blip. */
    public static final long DEFAULT_REGION_SIZE = 4L << 20;

    public BitmapHeader {
        if (regionSize < 4096 || Long.bitCount(regionSize) != 1) {
            throw new IllegalArgumentException("bitmap region size must be a power of two of at least 4096");
        }
        if (regions < 1 || regions > MAX_REGIONS) {
            throw new IllegalArgumentException("bitmap of " + regions + " regions is out of range");
        }
    }

    static int regionsFor(long dataSize, long regionSize) {
        return (int) ((dataSize + regionSize - 1) / regionSize);
    }

    static int pagesFor(int regions) {
        return (regions + BITS_PER_PAGE - 1) / BITS_PER_PAGE;
    }

    /** A header for members holding {@code memberDataSize} bytes, regions as requested but grown to fit. */
    static BitmapHeader forData(long memberDataSize, long requestedRegionSize, long clearedAtEvents) {
        long region = regionSizeFor(memberDataSize, requestedRegionSize);
        return new BitmapHeader(region, regionsFor(memberDataSize, region), clearedAtEvents);
    }

    /** The requested region size, grown (doubling) until the bitmap fits its space. */
    public static long regionSizeFor(long memberDataSize, long requested) {
        long size = requested;
        while ((memberDataSize + size - 1) / size > MAX_REGIONS) {
            size <<= 1;
        }
        return size;
    }

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(PAGE_SIZE);
        b.put(MAGIC).putInt(VERSION).putLong(regionSize).putInt(regions).putLong(clearedAtEvents);
        return MetadataBlock.seal(b);
    }

    static BitmapHeader decode(byte[] bytes) throws InvalidMetadataException {
        ByteBuffer b = MetadataBlock.open(bytes, MAGIC, "write-intent bitmap header");
        if (b.getInt() != VERSION) {
            throw new InvalidMetadataException("bitmap format version is not supported");
        }
        try {
            return new BitmapHeader(b.getLong(), b.getInt(), b.getLong());
        } catch (IllegalArgumentException e) {
            throw new InvalidMetadataException("bitmap header is invalid: " + e.getMessage());
        }
    }
}
