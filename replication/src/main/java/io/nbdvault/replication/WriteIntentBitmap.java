package io.nbdvault.replication;

import io.nbdvault.core.Requests;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The write-intent bitmap of one mirror group, as md keeps it: one bit per region of the members'
 * data. A bit is set, durably on the copies, before any write to its region goes out, and cleared
 * only after the region has been idle for a whole period while every copy was in sync (with the
 * copies flushed first). So a set bit is the only place copies can differ: after a crash only
 * those regions are resynchronised, and a copy that was away only needs the regions whose bit is
 * still set — nothing is cleared while the group is degraded.
 */
final class WriteIntentBitmap {
    /** Where the bitmap pages go: every copy in service; fails only when no copy took the write. */
    interface Store {
        CompletableFuture<Void> writePage(int page, byte[] bytes);

        /** Records the event counter of a clearing pass, before its pages are written. */
        CompletableFuture<Void> writeHeader(BitmapHeader header);

        /** Makes every copy's completed writes durable; fails if any copy failed to. */
        CompletableFuture<Void> flushCopies();
    }

    private final long regionSize;
    private final int regions;
    private final Store store;
    private final BitSet bits = new BitSet();
    private final int[] inFlight;
    /** Regions written since the last clearing pass: not idle yet. */
    private final BitSet touched = new BitSet();
    /** A page write not started yet: bits set meanwhile ride along with it. */
    private final CompletableFuture<Void>[] pageQueued;
    /** The last page write that started, and what it wrote: which bits it makes durable. */
    private final CompletableFuture<Void>[] lastStarted;
    private final byte[][] lastSnapshot;
    private long clearedAtEvents;

    @SuppressWarnings("unchecked")
    WriteIntentBitmap(long regionSize, long dataSize, long clearedAtEvents, Store store) {
        this.regionSize = regionSize;
        this.regions = BitmapHeader.regionsFor(dataSize, regionSize);
        this.store = store;
        this.clearedAtEvents = clearedAtEvents;
        this.inFlight = new int[regions];
        int pages = BitmapHeader.pagesFor(regions);
        this.pageQueued = new CompletableFuture[pages];
        this.lastStarted = new CompletableFuture[pages];
        this.lastSnapshot = new byte[pages][];
        java.util.Arrays.fill(lastStarted, Requests.done());
    }

    long regionSize() {
        return regionSize;
    }

    int regions() {
        return regions;
    }

    synchronized long clearedAtEvents() {
        return clearedAtEvents;
    }

    /** Sets bits loaded from the copies' metadata (already durable there). */
    synchronized void load(BitSet dirty) {
        bits.or(dirty);
        touched.or(dirty);
        for (int p = 0; p < lastSnapshot.length; p++) {
            lastSnapshot[p] = page(p);
            lastStarted[p] = Requests.done();
        }
    }

    /**
     * Announces a write to {@code [offset, offset+length)}: completes once its regions' bits are
     * durable. Every call must be paired with {@link #end}.
     */
    CompletableFuture<Void> begin(long offset, long length) {
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        synchronized (this) {
            int first = region(offset);
            int last = region(offset + Math.max(length, 1) - 1);
            for (int r = first; r <= last; r++) {
                inFlight[r]++;
                touched.set(r);
                int page = r / BitmapHeader.BITS_PER_PAGE;
                if (!bits.get(r)) {
                    bits.set(r);
                    waits.add(schedulePage(page));
                } else {
                    // Set by someone else: wait for the page write that carries it, if not landed yet.
                    CompletableFuture<Void> carrier = carrier(page, r);
                    if (!carrier.isDone()) {
                        waits.add(carrier);
                    }
                }
            }
        }
        if (waits.isEmpty()) {
            return Requests.done();
        }
        return CompletableFuture.allOf(waits.stream().distinct().toArray(CompletableFuture[]::new));
    }

    synchronized void end(long offset, long length) {
        int first = region(offset);
        int last = region(offset + Math.max(length, 1) - 1);
        for (int r = first; r <= last; r++) {
            inFlight[r]--;
        }
    }

    /** The regions whose bit is set, as byte ranges of member data: what a returning copy needs. */
    synchronized List<long[]> dirtyRanges(long dataSize) {
        List<long[]> out = new ArrayList<>();
        for (int r = bits.nextSetBit(0); r >= 0; r = bits.nextSetBit(r + 1)) {
            int end = bits.nextClearBit(r);
            long from = r * regionSize;
            long to = Math.min(dataSize, end * regionSize);
            out.add(new long[] {from, to - from});
            r = end;
        }
        return out;
    }

    synchronized int dirtyRegions() {
        return bits.cardinality();
    }

    /**
     * One clearing pass, to run only while every copy is in sync: regions idle since the previous
     * pass are cleared after the copies have been flushed. {@code events} is recorded so a copy
     * that left before this pass is known to need a full resync. With {@code evenIfRecent} (a
     * clean shutdown) every region with nothing in flight is cleared.
     */
    CompletableFuture<Integer> clearIdle(long events, java.util.function.BooleanSupplier inSync, boolean evenIfRecent) {
        BitSet candidates;
        synchronized (this) {
            candidates = (BitSet) bits.clone();
            if (!evenIfRecent) {
                candidates.andNot(touched);
            }
            for (int r = candidates.nextSetBit(0); r >= 0; r = candidates.nextSetBit(r + 1)) {
                if (inFlight[r] != 0) {
                    candidates.clear(r);
                }
            }
            touched.clear();
        }
        if (candidates.isEmpty()) {
            return CompletableFuture.completedFuture(0);
        }
        return store.flushCopies().thenCompose(flushed -> {
            if (!inSync.getAsBoolean()) {
                return CompletableFuture.completedFuture(0);
            }
            return store.writeHeader(new BitmapHeader(regionSize, regions, events)).thenCompose(x -> {
                List<CompletableFuture<Void>> writes = new ArrayList<>();
                int cleared = 0;
                synchronized (this) {
                    clearedAtEvents = events;
                    BitSet pages = new BitSet();
                    for (int r = candidates.nextSetBit(0); r >= 0; r = candidates.nextSetBit(r + 1)) {
                        // Written again while the copies were being flushed: keep it.
                        if (inFlight[r] == 0 && (evenIfRecent || !touched.get(r)) && bits.get(r)) {
                            bits.clear(r);
                            pages.set(r / BitmapHeader.BITS_PER_PAGE);
                            cleared++;
                        }
                    }
                    for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(p + 1)) {
                        writes.add(schedulePage(p));
                    }
                }
                int n = cleared;
                return CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).thenApply(y -> n);
            });
        });
    }

    /** Writes every page (for a copy that has just been brought in sync). */
    CompletableFuture<Void> writeAll() {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        synchronized (this) {
            for (int p = 0; p < lastStarted.length; p++) {
                writes.add(schedulePage(p));
            }
        }
        return CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new));
    }

    /** One page as written: BitSet's own byte order (bit r at byte r/8, bit r%8) is the on-disk order. */
    synchronized byte[] page(int page) {
        int from = page * BitmapHeader.BITS_PER_PAGE;
        byte[] set = bits.get(from, Math.min(regions, from + BitmapHeader.BITS_PER_PAGE)).toByteArray();
        return java.util.Arrays.copyOf(set, BitmapHeader.PAGE_SIZE);
    }

    /** The page write that makes an already-set bit durable (a failed one is tried again). */
    private CompletableFuture<Void> carrier(int page, int region) {
        byte[] snapshot = lastSnapshot[page];
        if (snapshot == null || !isSet(snapshot, region - page * BitmapHeader.BITS_PER_PAGE)) {
            // Not in the last write that started: the one queued behind it takes it in.
            return pageQueued[page] != null ? pageQueued[page] : schedulePage(page);
        }
        if (lastStarted[page].isCompletedExceptionally()) {
            return schedulePage(page);
        }
        return lastStarted[page];
    }

    /**
     * Bit {@code bit} of a page as written (the order of {@link #page}). Tested in place: this runs
     * under the lock for every write to a region already marked, where decoding the page into a
     * BitSet allocated 4 KiB each time (a percent of a 4 KiB random write's CPU).
     */
    private static boolean isSet(byte[] page, int bit) {
        return (page[bit >>> 3] & (1 << (bit & 7))) != 0;
    }

    /**
     * Queues a write of one page; writes of the same page land in order, and a write not yet
     * started takes in every bit set before it starts, so concurrent setters share it.
     */
    private CompletableFuture<Void> schedulePage(int page) {
        assert Thread.holdsLock(this);
        if (pageQueued[page] != null) {
            return pageQueued[page];
        }
        CompletableFuture<Void> queued = new CompletableFuture<>();
        pageQueued[page] = queued;
        lastStarted[page].handle((x, e) -> null).thenCompose(x -> {
            byte[] snapshot;
            synchronized (this) {
                pageQueued[page] = null;
                snapshot = page(page);
                lastSnapshot[page] = snapshot;
                lastStarted[page] = queued;
            }
            return store.writePage(page, snapshot);
        }).whenComplete((ok, e) -> {
            if (e != null) {
                queued.completeExceptionally(e);
            } else {
                queued.complete(null);
            }
        });
        return queued;
    }

    private int region(long offset) {
        return (int) Math.min(regions - 1, offset / regionSize);
    }

    /** Decodes one page of bits into {@code into}. */
    static void decodePage(byte[] bytes, int page, int regions, BitSet into) {
        int from = page * BitmapHeader.BITS_PER_PAGE;
        BitSet set = BitSet.valueOf(bytes);
        for (int bit = set.nextSetBit(0); bit >= 0 && from + bit < regions; bit = set.nextSetBit(bit + 1)) {
            into.set(from + bit);
        }
    }
}
