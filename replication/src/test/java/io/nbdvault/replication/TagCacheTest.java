package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.Devices;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A member's tag cache far smaller than its tags: pages are loaded, written back and evicted all the
 * time while several threads update and read blocks in them, through the fast paths (a cached page
 * taken under its monitor) and the general one (pin, load) alike. Every read must verify, and once
 * written back, the tags on the member must vouch for every block to a cache that starts cold.
 */
@Timeout(120)
class TagCacheTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 64 * TaggedDevice.TAGS_PER_PAGE;
    private static final long DATA = (long) BLOCKS * BLOCK;
    private static final int PAGES_CACHED = 4;
    private static final byte[] KEY = new byte[64];
    private static final UUID ARRAY = UUID.randomUUID();

    @Test
    void updatesAndReadsStayVerifiedWhilePagesAreEvicted() throws Exception {
        MemoryDevice raw = new MemoryDevice(DATA + (long) BLOCKS * BlockMac.TAG);
        TaggedDevice member = tagged(raw);
        member.writeZeroes(0, DATA, 0).join();
        member.writeBack().join();

        int threads = 4;
        byte[][] expected = new byte[BLOCKS][];
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        try {
            // The bitmap tick's write-back, running beside the updates as in a served array.
            Future<?> ticks = pool.submit(() -> {
                while (!done.get()) {
                    member.writeBack().join();
                }
                return null;
            });
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int me = t;
                workers.add(pool.submit(() -> {
                    // Each thread owns the blocks ≡ me (mod threads): what it reads back is what it wrote
                    // last, while the pages (256 blocks each) are shared by all of them.
                    Random random = new Random(me);
                    for (int op = 0; op < 3000; op++) {
                        int block = random.nextInt(BLOCKS / threads) * threads + me;
                        if (random.nextInt(3) > 0) {
                            byte[] data = new byte[BLOCK];
                            random.nextBytes(data);
                            member.write((long) block * BLOCK, Unpooled.wrappedBuffer(data), 0).join();
                            expected[block] = data;
                        } else {
                            byte[] want = expected[block] != null ? expected[block] : new byte[BLOCK];
                            assertArrayEquals(want, Devices.read(member, (long) block * BLOCK, BLOCK), "block " + block);
                        }
                    }
                    return null;
                }));
            }
            try {
                for (Future<?> w : workers) {
                    w.get();
                }
            } finally {
                done.set(true);
            }
            ticks.get();
        } finally {
            pool.shutdownNow();
        }
        // 64 pages through a cache of 4: many were evicted (a page in use or holding tags not written back never is).
        assertTrue(member.evictedPages() > 100, member.evictedPages() + " pages evicted");

        member.writeBack().join();
        TaggedDevice cold = tagged(raw);
        for (int block = 0; block < BLOCKS; block++) {
            byte[] want = expected[block] != null ? expected[block] : new byte[BLOCK];
            byte[] got = Devices.read(cold, (long) block * BLOCK, BLOCK);
            assertTrue(Arrays.equals(want, got), "block " + block + " read back through a cold cache");
        }
    }

    @Test
    void aPageCachedWhileItsBlocksAreZeroedTakesTheirZeroTags() {
        MemoryDevice raw = new MemoryDevice(DATA + (long) BLOCKS * BlockMac.TAG);
        TaggedDevice first = tagged(raw);
        first.writeZeroes(0, DATA, 0).join();
        byte[] data = new byte[TaggedDevice.TAGS_PER_PAGE * BLOCK];
        new Random(5).nextBytes(data);
        first.write(0, Unpooled.wrappedBuffer(data), 0).join();
        first.writeBack().join();

        // A cold cache: zeroing the first page's blocks whole writes their tags past it, and that write is held.
        HeldTagWrites tagArea = new HeldTagWrites(raw);
        TaggedDevice member = new TaggedDevice(new BoundedDevice(raw, DATA), tagArea, DATA, 0, "member", integrity());
        CompletableFuture<Void> zeroing = member.writeZeroes(0, data.length, 0);
        assertFalse(zeroing.isDone(), "the zero tags' write is held");
        // Meanwhile a read caches that page, loading the tags of the random data, and finds zeroes.
        CompletableFuture<ByteBuf> read = member.read(BLOCK, BLOCK);
        tagArea.release();
        zeroing.join();
        ByteBuf got = read.join();
        try {
            assertArrayEquals(new byte[BLOCK], ByteBufUtil.getBytes(got), "the read waited for the zeroing and verified");
        } finally {
            got.release();
        }
        assertArrayEquals(new byte[data.length], Devices.read(member, 0, data.length), "every zeroed block verifies");
        member.writeBack().join();
        assertArrayEquals(new byte[data.length], Devices.read(tagged(raw), 0, data.length), "and from the member's tags");
    }

    /** The member, whose writes to the tag area wait until {@link #release}. */
    private static final class HeldTagWrites extends ForwardingDevice {
        private final CompletableFuture<Void> gate = new CompletableFuture<>();

        HeldTagWrites(BlockDevice below) {
            super(below);
        }

        void release() {
            gate.complete(null);
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
            if (offset < DATA) {
                return below.write(offset, data, flags);
            }
            data.retain();
            return gate.thenCompose(x -> below.write(offset, data, flags)).whenComplete((x, e) -> data.release());
        }
    }

    private static ArrayIntegrity integrity() {
        ArrayIntegrity integrity = new ArrayIntegrity(ARRAY, BLOCK, (long) PAGES_CACHED * TaggedDevice.PAGE);
        integrity.arm(KEY.clone());
        return integrity;
    }

    private static TaggedDevice tagged(MemoryDevice raw) {
        return new TaggedDevice(new BoundedDevice(raw, DATA), raw, DATA, 0, "member", integrity());
    }
}
