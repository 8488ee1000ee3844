package io.nbdvault.replication;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every member's {@link TaggedDevice} of one array shares: the MAC, set once the volume key is
 * known (until then reads pass unverified — only the LUKS header is read before the key — and
 * updates are refused), and the memory budget of the tag caches.
 */
final class ArrayIntegrity {
    /** A copy that failed this many block checks since it was opened is failed like an erroring one. */
    static final long FAIL_AFTER_CORRUPT_BLOCKS = 64;
    /**
     * Memory for cached tags, all members together: 128 MiB holds the tags of 4 GiB of member data
     * at 512-byte blocks (32 GiB at 4 KiB), enough for a warm working set without a second round trip.
     */
    static final long CACHE_BYTES = 128L << 20;

    private final UUID array;
    private final int block;
    private final long cacheBudget;
    private final AtomicLong cached = new AtomicLong();
    private volatile BlockMac mac;
    private volatile boolean settled;

    ArrayIntegrity(UUID array, int block, long cacheBudget) {
        this.array = array;
        this.block = block;
        this.cacheBudget = cacheBudget;
    }

    void arm(byte[] volumeKey) {
        mac = BlockMac.derive(volumeKey, array, block);
    }

    /** Null until {@link #arm}. */
    BlockMac mac() {
        return mac;
    }

    /**
     * True once the regions the bitmap marked at assembly have been settled: until then their bits
     * must stay set (a process killed meanwhile settles them at the next unlock).
     */
    boolean settled() {
        return settled;
    }

    void markSettled() {
        settled = true;
    }

    int block() {
        return block;
    }

    /** Accounts a page entering (+) or leaving (-) a cache; true when the caches are over budget. */
    boolean account(long bytes) {
        return cached.addAndGet(bytes) > cacheBudget;
    }
}
