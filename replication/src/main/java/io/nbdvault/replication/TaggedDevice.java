package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.Futures;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * One member's data area with integrity tags (a filter over the member, like dm-integrity under
 * md): every block read is checked against its tag before it goes up, every update writes the
 * blocks' new tags beside the data. Tags live after the member's data ({@link ArrayGeometry}), so
 * the data area stays a plain LUKS2 volume that cryptsetup opens alone.
 *
 * <p>A block that fails its check is read once more (after any write in flight over it), then
 * reported as a {@link CorruptBlocksException}: the mirror above reads it from another copy and
 * rewrites it here. Updates that overlap are ordered ({@link RangeOrder}) so data and tag reach the
 * member in the same order; an update is complete when both are written (durably, with FUA). A
 * crash between the two leaves a block whose tag disagrees only inside a region marked in the
 * write-intent bitmap, which the array settles before it trusts it.
 *
 * <p>Tags are read and written in 4 KiB pages and cached (a budget shared by the array). An update
 * completes once its data is written: its tags go into the cached page, which is written back
 * later ({@link #writeBack}, every bitmap period, and before a region's bit is cleared), so a
 * small random write costs one request, not two, and the tag writes of many updates coalesce. That
 * is safe because the region stays marked in the write-intent bitmap until the tags are durable:
 * a crash before that leaves the blocks whose tags lag inside marked regions, which are settled
 * at the next unlock. A page an update covers whole is never read first.
 *
 * <p>Threads: continuations run on whichever thread completes the member's requests; page state
 * is guarded by the page's monitor, held only to copy (or compute) 4 KiB of tags at most, never across I/O.
 */
final class TaggedDevice extends ForwardingDevice {
    private static final Logger LOG = Logger.getLogger(TaggedDevice.class.getName());
    static final int PAGE = ArrayGeometry.TAG_PAGE;
    static final int TAGS_PER_PAGE = PAGE / BlockMac.TAG;
    private static final int KNOWN_BAD_LIMIT = 1 << 16;
    /** Whole pages of tags written at once when a large range is zeroed. */
    private static final int ZERO_BATCH_PAGES = 256;

    private final BlockDevice tagArea;
    private final long tagBase;
    private final int unit;
    private final int group;
    private final String name;
    private final ArrayIntegrity integrity;
    private final ConcurrentHashMap<Long, Page> pages = new ConcurrentHashMap<>();
    private final RangeOrder order = new RangeOrder();
    private final AtomicLong corrupt = new AtomicLong();
    private final AtomicLong repaired = new AtomicLong();
    private final Set<Long> knownBad = ConcurrentHashMap.newKeySet();
    private final AtomicLong clock = new AtomicLong();
    private final AtomicLong evicted = new AtomicLong();
    private volatile List<long[]> trusted = List.of();
    private final java.util.concurrent.atomic.AtomicBoolean writingBack = new java.util.concurrent.atomic.AtomicBoolean();

    /** A page of 256 tags, as this member holds them (or will, once the writes in flight land). */
    private static final class Page {
        final long index;
        final byte[] tags = new byte[PAGE];
        final CompletableFuture<Page> loaded = new CompletableFuture<>();
        // Guarded by this:
        int pins;
        boolean evicted;
        /** Holds tags not yet written back. */
        boolean dirty;
        boolean writing;
        List<CompletableFuture<Void>> waiting = new ArrayList<>();
        volatile long used;

        Page(long index) {
            this.index = index;
        }

        boolean idle() {
            return pins == 0 && !dirty && !writing && waiting.isEmpty() && loaded.isDone();
        }
    }

    /** Blocks read with their verdict: {@code bad} holds the indices (from the first block read) that failed. */
    record Checked(ByteBuf data, BitSet bad) {
    }

    /**
     * @param data    the member's data area (bounded, with a deadline)
     * @param tagArea the whole member (with a deadline); tags start at byte {@code tagBase}
     */
    TaggedDevice(BlockDevice data, BlockDevice tagArea, long tagBase, int group, String name, ArrayIntegrity integrity) {
        super(data);
        this.tagArea = tagArea;
        this.tagBase = tagBase;
        this.unit = integrity.block();
        this.group = group;
        this.name = name;
        this.integrity = integrity;
    }

    long corruptBlocks() {
        return corrupt.get();
    }

    long repairedBlocks() {
        return repaired.get();
    }

    int unit() {
        return unit;
    }

    /** How many pages of tags were dropped from memory to keep the caches within their budget. */
    long evictedPages() {
        return evicted.get();
    }

    @Override
    public int blockSize() {
        return Math.max(unit, below.blockSize());
    }

    // ---- reads

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockMac mac = integrity.mac();
        if (mac == null) {
            return below.read(offset, length);
        }
        long from = offset / unit * unit;
        long to = (offset + length + unit - 1) / unit * unit;
        return verifiedRead(mac, from, (int) (to - from), true).thenApply(buf -> {
            int skip = (int) (offset - from);
            return buf.readerIndex(buf.readerIndex() + skip).writerIndex(buf.readerIndex() + length);
        });
    }

    private CompletableFuture<ByteBuf> verifiedRead(BlockMac mac, long from, int length, boolean mayRetry) {
        return readChecked(mac, from, length).thenCompose(c -> {
            if (c.bad().isEmpty()) {
                return CompletableFuture.completedFuture(c.data());
            }
            long first = from / unit;
            if (!mayRetry && allTrusted(first, c.bad())) {
                retag(mac, first, c);
                return CompletableFuture.completedFuture(c.data());
            }
            c.data().release();
            if (mayRetry) {
                // A write over these blocks may have landed between the data and the tag we compared
                // it with: wait for any in flight, then look again before calling it damage.
                List<CompletableFuture<Void>> writes = order.overlapping(first, first + length / unit);
                return Futures.all(writes).handle((x, e) -> null).thenCompose(x -> verifiedRead(mac, from, length, false));
            }
            long total = recordCorrupt(first, c.bad());
            return CompletableFuture.failedFuture(new CorruptBlocksException(c.bad().cardinality() + " block(s) of " + name
                    + " at " + describe(first, c.bad()) + " failed the integrity check", total));
        });
    }

    /**
     * This copy comes back as its group's only source after every copy failed (see
     * MemberReturns): tags it held only in memory were lost with it, so in the regions the bitmap
     * marked its blocks may disagree with their tags, and no other copy can vouch for them. There,
     * like the settling after a crash, what it holds is taken and re-tagged, until the group is
     * in sync again ({@code List.of()} ends it).
     */
    void trust(List<long[]> ranges) {
        trusted = List.copyOf(ranges);
    }

    private boolean allTrusted(long first, BitSet bad) {
        List<long[]> ranges = trusted;
        if (ranges.isEmpty()) {
            return false;
        }
        for (int b = bad.nextSetBit(0); b >= 0; b = bad.nextSetBit(b + 1)) {
            long at = (first + b) * unit;
            if (ranges.stream().noneMatch(r -> at >= r[0] && at < r[0] + r[1])) {
                return false;
            }
        }
        return true;
    }

    /** New tags for the blocks of {@code c} that failed, from their data (into the cache; written back later). */
    private void retag(BlockMac mac, long first, Checked c) {
        for (int b = c.bad().nextSetBit(0); b >= 0; b = c.bad().nextSetBit(b + 1)) {
            byte[] tag = new byte[BlockMac.TAG];
            mac.tags(c.data(), c.data().readerIndex() + b * unit, 1, first + b, group, tag, 0);
            writeTags(first + b, first + b + 1, tag, false, mac);
        }
        LOG.warning("integrity: " + name + " (group " + group + ") re-tagged " + c.bad().cardinality() + " block(s) at "
                + describe(first, c.bad()) + " as the only copy left, in regions the bitmap marked");
    }

    /** Reads whole blocks and checks each against its tag, without judging: scrub decides what to do. */
    CompletableFuture<Checked> readChecked(long from, int length) {
        BlockMac mac = integrity.mac();
        if (mac == null) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "integrity key not loaded"));
        }
        return readChecked(mac, from, length);
    }

    private CompletableFuture<Checked> readChecked(BlockMac mac, long from, int length) {
        long first = from / unit;
        int blocks = length / unit;
        CompletableFuture<byte[]> expected = expectedTags(first, blocks);
        return below.read(from, length).thenCompose(buf -> expected.handle((tags, error) -> {
            if (error != null) {
                buf.release();
                throw new java.util.concurrent.CompletionException(BlockDeviceException.unwrap(error));
            }
            try {
                byte[] actual = new byte[blocks * BlockMac.TAG];
                mac.tags(buf, buf.readerIndex(), blocks, first, group, actual, 0);
                BitSet bad = new BitSet();
                for (int b = 0; b < blocks; b++) {
                    int at = b * BlockMac.TAG;
                    if (!Arrays.equals(actual, at, at + BlockMac.TAG, tags, at, at + BlockMac.TAG)) {
                        bad.set(b);
                    }
                }
                return new Checked(buf, bad);
            } catch (RuntimeException e) {
                buf.release();
                throw e;
            }
        }));
    }

    /** The tags this member holds for blocks [first, first + blocks), as one array. */
    private CompletableFuture<byte[]> expectedTags(long first, int blocks) {
        long p0 = first / TAGS_PER_PAGE;
        long p1 = (first + blocks - 1) / TAGS_PER_PAGE;
        // One array for either path: the fast one fills it whole or leaves it untouched.
        byte[] out = new byte[blocks * BlockMac.TAG];
        if (p0 == p1 && copiedWithCachedPage(first, out, false)) {
            return CompletableFuture.completedFuture(out);
        }
        List<CompletableFuture<Page>> pinned = new ArrayList<>();
        for (long p = p0; p <= p1; p++) {
            pinned.add(pin(p, null));
        }
        return Futures.all(pinned).handle((x, error) -> {
            try {
                if (error != null) {
                    throw new java.util.concurrent.CompletionException(BlockDeviceException.unwrap(error));
                }
                for (CompletableFuture<Page> f : pinned) {
                    Page page = f.join();
                    long pageFirst = page.index * TAGS_PER_PAGE;
                    long lo = Math.max(first, pageFirst);
                    long hi = Math.min(first + blocks, pageFirst + TAGS_PER_PAGE);
                    synchronized (page) {
                        System.arraycopy(page.tags, (int) (lo - pageFirst) * BlockMac.TAG, out, (int) (lo - first) * BlockMac.TAG,
                                (int) (hi - lo) * BlockMac.TAG);
                    }
                }
                return out;
            } finally {
                pinned.forEach(f -> f.thenAccept(this::unpin));
            }
        });
    }

    /**
     * The usual read or update (a few blocks, their page cached and loaded): their tags copied out
     * of the page ({@code intoPage} false) or into it, marking it dirty, under the page's monitor as
     * every access to it, without pinning it or a future to wait on. False when the page is not
     * there: the caller takes the general path (pin, load).
     */
    private boolean copiedWithCachedPage(long first, byte[] tags, boolean intoPage) {
        long index = first / TAGS_PER_PAGE;
        Page page = cachedPage(index);
        if (page == null) {
            return false;
        }
        int at = (int) (first - index * TAGS_PER_PAGE) * BlockMac.TAG;
        synchronized (page) {
            if (page.evicted) {
                return false;
            }
            if (intoPage) {
                System.arraycopy(tags, 0, page.tags, at, tags.length);
                // Dirty before the monitor is released: a page holding tags not written back is never evicted.
                page.dirty = true;
            } else {
                System.arraycopy(page.tags, at, tags, 0, tags.length);
            }
        }
        page.used = clock.incrementAndGet();
        return true;
    }

    /** The page if it is cached and its tags are loaded; it may still be evicted until its monitor is taken. */
    private Page cachedPage(long index) {
        Page page = pages.get(index);
        return page == null || !page.loaded.isDone() || page.loaded.isCompletedExceptionally() ? null : page;
    }

    // ---- updates

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return write(offset, data, flags, null);
    }

    /**
     * The tags of an update, computed once for every copy (they are the same on all): null when
     * the key is not loaded yet or the update is not aligned (each copy then refuses it itself).
     */
    byte[] tagsFor(long offset, ByteBuf data) {
        BlockMac mac = integrity.mac();
        int length = data.readableBytes();
        if (mac == null || offset % unit != 0 || length % unit != 0) {
            return null;
        }
        byte[] tags = new byte[length / unit * BlockMac.TAG];
        mac.tags(data, data.readerIndex(), length / unit, offset / unit, group, tags, 0);
        return tags;
    }

    /** A write whose tags the mirror computed already ({@link #tagsFor}); null: computed here. */
    CompletableFuture<Void> write(long offset, ByteBuf data, int flags, byte[] precomputed) {
        BlockMac mac = integrity.mac();
        int length = data.readableBytes();
        if (mac == null) {
            return keyNotLoaded();
        }
        if (offset % unit != 0 || length % unit != 0) {
            return partialWrite(mac, offset, data, flags);
        }
        long first = offset / unit;
        int blocks = length / unit;
        byte[] tags = precomputed != null ? precomputed : tagsFor(offset, data);
        return update(first, first + blocks, flags, () -> below.write(offset, data, flags), tags, mac);
    }

    /**
     * An update of part of a block (a 512-byte sector of a 4 KiB block): the blocks it touches are
     * read from this copy and checked, patched, tagged and written whole, all in the order of
     * overlapping updates, so nothing slips in between. A block that fails its check here fails the
     * update (and so this copy): its other bytes cannot be vouched for.
     */
    private CompletableFuture<Void> partialWrite(BlockMac mac, long offset, ByteBuf data, int flags) {
        long from = offset / unit * unit;
        int length = (int) ((offset + data.readableBytes() + unit - 1) / unit * unit - from);
        long first = from / unit;
        long last = first + length / unit;
        return ordered(first, last, () -> readChecked(mac, from, length).thenCompose(c -> {
                    ByteBuf whole = io.netty.buffer.ByteBufAllocator.DEFAULT.buffer(length);
                    try {
                        whole.writeBytes(c.data(), c.data().readerIndex(), length);
                    } finally {
                        c.data().release();
                    }
                    if (!c.bad().isEmpty()) {
                        whole.release();
                        long total = recordCorrupt(first, c.bad());
                        return CompletableFuture.<Void>failedFuture(new CorruptBlocksException("a partial update of " + name
                                + " found " + describe(first, c.bad()) + " failing the integrity check", total));
                    }
                    whole.setBytes((int) (offset - from), data, data.readerIndex(), data.readableBytes());
                    byte[] tags = new byte[length / unit * BlockMac.TAG];
                    mac.tags(whole, 0, length / unit, first, group, tags, 0);
                    CompletableFuture<Void> written = Futures.call(() -> below.write(from, whole, flags))
                            .whenComplete((ok, e) -> whole.release());
                    return Futures.all(List.of(written, writeTags(first, last, tags, false, mac)));
                }));
    }

    /** Zeroes on the member, and the tags of zero blocks: a discarded block still verifies (as zeroes). */
    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        BlockMac mac = integrity.mac();
        if (mac == null) {
            return keyNotLoaded();
        }
        long from = (offset + unit - 1) / unit * unit;
        long to = (offset + length) / unit * unit;
        if (from != offset || to != offset + length) {
            // Parts of blocks at the edges are zeroed by rewriting their blocks, the whole blocks between at once.
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            long headEnd = Math.min(offset + length, from);
            if (headEnd > offset) {
                parts.add(zeroPart(mac, offset, headEnd - offset, flags));
            }
            if (to > from) {
                parts.add(writeZeroes(from, to - from, flags));
            }
            long tailStart = Math.max(to, headEnd);
            if (offset + length > tailStart) {
                parts.add(zeroPart(mac, tailStart, offset + length - tailStart, flags));
            }
            return Futures.all(parts);
        }
        long first = offset / unit;
        return update(first, first + length / unit, flags & WriteFlags.FUA,
                () -> below.writeZeroes(offset, length, flags & ~WriteFlags.FAST_ZERO), null, mac);
    }

    private CompletableFuture<Void> zeroPart(BlockMac mac, long offset, long length, int flags) {
        ByteBuf zeroes = Unpooled.wrappedBuffer(new byte[(int) length]);
        return partialWrite(mac, offset, zeroes, flags & WriteFlags.FUA).whenComplete((x, e) -> zeroes.release());
    }

    /**
     * A discard becomes zeroes (which may still deallocate): a block must read back as something its
     * tag vouches for. Only whole blocks are discarded; a partial one keeps its data, as trim is advisory.
     */
    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        long from = (offset + unit - 1) / unit * unit;
        long to = (offset + length) / unit * unit;
        if (to <= from) {
            return CompletableFuture.completedFuture(null);
        }
        return writeZeroes(from, to - from, flags & WriteFlags.FUA);
    }

    private CompletableFuture<Void> keyNotLoaded() {
        return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO,
                "integrity key not loaded: " + name + " takes no updates until the volume is unlocked"));
    }

    /**
     * Runs one update over blocks [from, to) once the earlier overlapping ones finished: the data
     * operation and the tag writes in parallel, complete when both are. {@code tags} null: zero blocks.
     */
    private CompletableFuture<Void> update(long from, long to, int flags, Supplier<CompletableFuture<Void>> dataOp,
                                           byte[] tags, BlockMac mac) {
        boolean fua = (flags & WriteFlags.FUA) != 0;
        return ordered(from, to, () -> {
            CompletableFuture<Void> data = Futures.call(dataOp);
            CompletableFuture<Void> tagged = Futures.call(() -> writeTags(from, to, tags, fua, mac));
            return tagged.isDone() && !tagged.isCompletedExceptionally() ? data : Futures.all(List.of(data, tagged));
        });
    }

    /**
     * Runs {@code body}, an update of blocks [from, to), once the earlier updates overlapping it
     * have finished; the blocks it rewrote are no longer known bad.
     */
    private CompletableFuture<Void> ordered(long from, long to, Supplier<CompletableFuture<Void>> body) {
        List<CompletableFuture<Void>> earlier = new ArrayList<>();
        RangeOrder.Entry entry = order.enter(from, to, earlier);
        CompletableFuture<Void> ready = earlier.isEmpty() ? CompletableFuture.completedFuture(null)
                : Futures.all(earlier).handle((x, e) -> null);
        return ready.thenCompose(x -> body.get()).whenComplete((x, error) -> {
            order.exit(entry);
            if (error == null) {
                noteRewritten(from, to);
            }
        });
    }

    private CompletableFuture<Void> writeTags(long from, long to, byte[] tags, boolean fua, BlockMac mac) {
        if (tags != null && from / TAGS_PER_PAGE == (to - 1) / TAGS_PER_PAGE && copiedWithCachedPage(from, tags, true)) {
            return CompletableFuture.completedFuture(null);
        }
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        List<long[]> bulk = new ArrayList<>();
        long p0 = from / TAGS_PER_PAGE;
        long p1 = (to - 1) / TAGS_PER_PAGE;
        long bulkFrom = -1;
        for (long p = p0; p <= p1; p++) {
            long pageFirst = p * TAGS_PER_PAGE;
            long lo = Math.max(from, pageFirst);
            long hi = Math.min(to, pageFirst + TAGS_PER_PAGE);
            boolean whole = lo == pageFirst && hi == pageFirst + TAGS_PER_PAGE;
            if (tags == null && whole && !pages.containsKey(p)) {
                // Large zeroed ranges: whole pages not in the cache are written as they are, in batches, never cached.
                if (bulkFrom < 0) {
                    bulkFrom = p;
                }
                if (p - bulkFrom + 1 == ZERO_BATCH_PAGES) {
                    bulk.add(new long[] {bulkFrom, p + 1});
                    bulkFrom = -1;
                }
                continue;
            }
            if (bulkFrom >= 0) {
                bulk.add(new long[] {bulkFrom, p});
                bulkFrom = -1;
            }
            byte[] part;
            if (tags != null) {
                part = Arrays.copyOfRange(tags, (int) (lo - from) * BlockMac.TAG, (int) (hi - from) * BlockMac.TAG);
            } else {
                part = new byte[(int) (hi - lo) * BlockMac.TAG];
                mac.zeroTags((int) (hi - lo), lo, group, part, 0);
            }
            byte[] fresh = whole ? part : null;
            writes.add(pin(p, fresh).thenAccept(page -> {
                synchronized (page) {
                    System.arraycopy(part, 0, page.tags, (int) (lo - pageFirst) * BlockMac.TAG, part.length);
                    // Dirty before unpinned: a page holding tags not written back is never evicted.
                    page.dirty = true;
                    page.pins--;
                }
            }));
        }
        if (bulkFrom >= 0) {
            bulk.add(new long[] {bulkFrom, p1 + 1});
        }
        // One batch after the other: zeroing a large volume holds one MiB of tags at a time, not all of them.
        CompletableFuture<Void> batches = CompletableFuture.completedFuture(null);
        for (long[] b : bulk) {
            batches = batches.thenCompose(x -> writeZeroPages(b[0], b[1], fua, mac))
                    .thenCompose(x -> zeroCachedMeanwhile(b[0], b[1], mac));
        }
        writes.add(batches);
        return Futures.all(writes);
    }

    /**
     * Writes every page holding tags not yet written back, then flushes the member: once this
     * completes, the tags of every update completed before it began are durable. Failures are
     * reported (the caller keeps the regions marked); a page that fails stays dirty.
     */
    CompletableFuture<Void> writeBack() {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (Page page : pages.values()) {
            CompletableFuture<Void> written = scheduleIfDirty(page);
            if (written == null) {
                continue;
            }
            writes.add(written.whenComplete((x, e) -> {
                if (e != null) {
                    synchronized (page) {
                        page.dirty = true;
                    }
                }
            }));
        }
        return Futures.all(writes).thenCompose(x -> tagArea.flush());
    }

    /**
     * Pages [p0, p1) were written as zero-block tags past the cache, which held none of them then;
     * a read may have cached one since, loading the tags from before that write. Such a page takes
     * the zero tags too, before the update completes (later updates of these blocks wait for it).
     */
    private CompletableFuture<Void> zeroCachedMeanwhile(long p0, long p1, BlockMac mac) {
        List<CompletableFuture<Void>> fixed = new ArrayList<>();
        for (long p = p0; p < p1; p++) {
            Page page = pages.get(p);
            if (page == null) {
                continue;
            }
            fixed.add(page.loaded.handle((loaded, error) -> {
                synchronized (page) {
                    if (error == null && !page.evicted) {
                        mac.zeroTags(TAGS_PER_PAGE, page.index * TAGS_PER_PAGE, group, page.tags, 0);
                        page.dirty = true;
                    }
                }
                return null;
            }));
        }
        return Futures.all(fixed);
    }

    /** Pages [p0, p1) of zero-block tags, straight to the member (one request); they are not cached. */
    private CompletableFuture<Void> writeZeroPages(long p0, long p1, boolean fua, BlockMac mac) {
        int count = (int) (p1 - p0);
        byte[] bytes = new byte[count * PAGE];
        mac.zeroTags(count * TAGS_PER_PAGE, p0 * TAGS_PER_PAGE, group, bytes, 0);
        return Futures.call(() -> tagArea.write(tagBase + p0 * PAGE, Unpooled.wrappedBuffer(bytes), fua ? WriteFlags.FUA : 0));
    }

    /**
     * Completes once a write of the page holding its current content has completed; null if the
     * page holds nothing that is not written back. Clean and queued in one hold of the monitor: a
     * page seen clean but not yet queued would look idle to {@link #evict}, which could drop it
     * before its tags were written, and a reload from the member would bring the old ones back.
     */
    private CompletableFuture<Void> scheduleIfDirty(Page page) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        Batch batch = null;
        synchronized (page) {
            if (!page.dirty) {
                return null;
            }
            page.dirty = false;
            page.waiting.add(mine);
            if (!page.writing) {
                page.writing = true;
                batch = takeBatch(page);
            }
        }
        if (batch != null) {
            writePage(page, batch);
        }
        return mine;
    }

    private record Batch(byte[] snapshot, List<CompletableFuture<Void>> waiters) {
    }

    /** Called holding the page's monitor. */
    private static Batch takeBatch(Page page) {
        Batch b = new Batch(page.tags.clone(), page.waiting);
        page.waiting = new ArrayList<>();
        return b;
    }

    private void writePage(Page page, Batch batch) {
        Futures.call(() -> tagArea.write(tagBase + page.index * PAGE, Unpooled.wrappedBuffer(batch.snapshot()), 0))
                .whenComplete((x, error) -> {
            Batch next = null;
            synchronized (page) {
                if (page.waiting.isEmpty()) {
                    page.writing = false;
                } else {
                    next = takeBatch(page);
                }
            }
            for (CompletableFuture<Void> w : batch.waiters()) {
                if (error == null) {
                    w.complete(null);
                } else {
                    w.completeExceptionally(BlockDeviceException.unwrap(error));
                }
            }
            if (next != null) {
                writePage(page, next);
            }
        });
    }

    // ---- the cache

    /**
     * The page, pinned (not evicted while pinned). {@code fresh}: the update covers the whole page
     * with these tags, so a page not cached is not read from the member first.
     */
    private CompletableFuture<Page> pin(long index, byte[] fresh) {
        while (true) {
            Page p = pages.get(index);
            if (p == null) {
                Page created = new Page(index);
                created.pins = 1;
                if (pages.putIfAbsent(index, created) == null) {
                    created.used = clock.incrementAndGet();
                    if (fresh != null) {
                        System.arraycopy(fresh, 0, created.tags, 0, PAGE);
                        created.loaded.complete(created);
                    } else {
                        load(created);
                    }
                    // After the load is under way: whatever happens here, the page's future completes.
                    if (integrity.account(PAGE)) {
                        evict();
                    }
                    return created.loaded;
                }
                continue;
            }
            synchronized (p) {
                if (p.evicted) {
                    continue;
                }
                p.pins++;
            }
            p.used = clock.incrementAndGet();
            return p.loaded;
        }
    }

    private void load(Page page) {
        Futures.call(() -> tagArea.read(tagBase + page.index * PAGE, PAGE)).whenComplete((buf, error) -> {
            if (error != null) {
                drop(page);
                page.loaded.completeExceptionally(BlockDeviceException.unwrap(error));
                return;
            }
            try {
                buf.getBytes(buf.readerIndex(), page.tags);
            } finally {
                buf.release();
            }
            page.loaded.complete(page);
        });
    }

    private void unpin(Page page) {
        synchronized (page) {
            page.pins--;
        }
    }

    private void drop(Page page) {
        synchronized (page) {
            if (page.evicted) {
                return;
            }
            page.evicted = true;
        }
        if (pages.remove(page.index, page)) {
            integrity.account(-PAGE);
        }
    }

    /** Over budget: drops idle pages, least recently used first among a sample, down to 7/8 of this member's share. */
    private void evict() {
        // Each candidate with its last use as seen now: pages keep being used during the sort, and a
        // sort on live stamps can find them inconsistent (TimSort then throws).
        List<IdlePage> idle = new ArrayList<>();
        for (Page p : pages.values()) {
            synchronized (p) {
                if (p.idle() && !p.loaded.isCompletedExceptionally()) {
                    idle.add(new IdlePage(p, p.used));
                }
            }
        }
        if (idle.isEmpty()) {
            // Full of tags not written back: write them, so the pages can go next time (unless
            // that is under way already). Nothing can go now; the cache stays over budget until then.
            if (writingBack.compareAndSet(false, true)) {
                writeBack().whenComplete((x, e) -> writingBack.set(false));
            }
            return;
        }
        idle.sort(Comparator.comparingLong(IdlePage::used));
        int target = Math.max(1, idle.size() / 8);
        for (int i = 0; i < target; i++) {
            Page p = idle.get(i).page();
            synchronized (p) {
                if (!p.idle()) {
                    continue;
                }
                p.evicted = true;
            }
            if (pages.remove(p.index, p)) {
                integrity.account(-PAGE);
                evicted.incrementAndGet();
            }
        }
    }

    private record IdlePage(Page page, long used) {
    }

    // ---- what was found

    private long recordCorrupt(long first, BitSet bad) {
        long total = corrupt.addAndGet(bad.cardinality());
        for (int b = bad.nextSetBit(0); b >= 0 && knownBad.size() < KNOWN_BAD_LIMIT; b = bad.nextSetBit(b + 1)) {
            knownBad.add(first + b);
        }
        LOG.warning("integrity: " + name + " (group " + group + ") returned " + bad.cardinality() + " bad block(s) at "
                + describe(first, bad) + "; " + total + " so far");
        return total;
    }

    /** Scrub found these blocks bad here (they are rewritten from a good copy when it repairs). */
    void noteBad(long first, BitSet bad) {
        recordCorrupt(first, bad);
    }

    private void noteRewritten(long from, long to) {
        if (knownBad.isEmpty()) {
            return;
        }
        if (to - from <= knownBad.size()) {
            for (long b = from; b < to; b++) {
                if (knownBad.remove(b)) {
                    repaired.incrementAndGet();
                }
            }
        } else {
            knownBad.removeIf(b -> {
                boolean in = b >= from && b < to;
                if (in) {
                    repaired.incrementAndGet();
                }
                return in;
            });
        }
    }

    /** "byte offsets a, b, c… (unit-byte blocks)" in the member's data area, the first eight. */
    private String describe(long first, BitSet bad) {
        StringBuilder s = new StringBuilder("member offset");
        int shown = 0;
        for (int b = bad.nextSetBit(0); b >= 0; b = bad.nextSetBit(b + 1)) {
            if (shown++ == 8) {
                s.append(" …");
                break;
            }
            s.append(shown == 1 ? " " : ", ").append((first + b) * unit);
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return name;
    }
}
