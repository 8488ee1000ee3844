package io.nbdvault.replication;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Orders updates of one member that overlap: an update starts once every earlier overlapping one
 * has finished, so its data and its tags reach the member in the same order (two racing writes to
 * one block could otherwise leave one's data under the other's tag). Updates that do not overlap,
 * the usual case, run at once. The list holds the updates in flight (a queue depth's worth), so a
 * linear scan under the monitor is cheaper than any index; no I/O happens under it.
 */
final class RangeOrder {
    /** An update in flight over blocks [from, to). */
    static final class Entry {
        final long from;
        final long to;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Entry(long from, long to) {
            this.from = from;
            this.to = to;
        }
    }

    private final List<Entry> inFlight = new ArrayList<>();

    /** Registers an update; {@code ready} completes when the earlier overlapping ones have finished. */
    synchronized Entry enter(long from, long to, List<CompletableFuture<Void>> earlier) {
        for (Entry e : inFlight) {
            if (e.from < to && from < e.to) {
                earlier.add(e.done);
            }
        }
        Entry mine = new Entry(from, to);
        inFlight.add(mine);
        return mine;
    }

    void exit(Entry e) {
        synchronized (this) {
            inFlight.remove(e);
        }
        e.done.complete(null);
    }

    /** The updates in flight over [from, to) now: a read that saw a block change under it waits for them. */
    synchronized List<CompletableFuture<Void>> overlapping(long from, long to) {
        List<CompletableFuture<Void>> found = new ArrayList<>();
        for (Entry e : inFlight) {
            if (e.from < to && from < e.to) {
                found.add(e.done);
            }
        }
        return found;
    }
}
