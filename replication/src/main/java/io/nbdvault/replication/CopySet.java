package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.DeadlineDevice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.logging.Logger;

/**
 * The copies of one mirror group and the state of each: in sync (serves reads and takes writes),
 * syncing (takes writes, serves no reads until a resync has brought it up to date) or failed
 * (out of service). Lock-free: the data path reads the state on every request from any thread;
 * a copy's state changes by compare-and-set, and the first failure of a copy is reported once to
 * the {@link MirrorListener}, on the thread that saw it (the listener hands it to the array's
 * control thread).
 */
final class CopySet {
    private static final Logger LOG = Logger.getLogger(CopySet.class.getName());

    private final AtomicReferenceArray<MeteredDevice> devices;
    private final AtomicReferenceArray<Throwable> failed;
    private final AtomicIntegerArray syncing;
    /** When each copy last failed, in the order failures were seen: which one held the newest data. */
    private final AtomicLongArray failedOrder;
    private final AtomicLong failures = new AtomicLong();
    /** Whether each copy was up to date when it last failed: only such a copy can be a group's source again. */
    private final AtomicIntegerArray failedInSync;
    private final MirrorListener listener;
    private final long size;
    private final Availability availability;
    /** Per copy, updates acknowledged before this copy finished them (write quorum), and their bytes. */
    private final List<ConcurrentLinkedQueue<Lag>> lags = new ArrayList<>();
    private final AtomicLongArray behind;
    private final AtomicInteger rotation = new AtomicInteger();
    /** One read in this many goes to the copy whose turn it is, so every copy's latency stays measured. */
    private static final int EXPLORE_EVERY = 16;

    CopySet(List<MeteredDevice> copies, MirrorListener listener) {
        this(copies, listener, new Availability());
    }

    /** {@code availability} is told whenever a copy comes back into service. */
    CopySet(List<MeteredDevice> copies, MirrorListener listener, Availability availability) {
        this.availability = availability;
        if (copies.isEmpty()) {
            throw new IllegalArgumentException("a mirror needs at least one copy");
        }
        this.devices = new AtomicReferenceArray<>(copies.toArray(MeteredDevice[]::new));
        this.failed = new AtomicReferenceArray<>(copies.size());
        this.syncing = new AtomicIntegerArray(copies.size());
        this.failedOrder = new AtomicLongArray(copies.size());
        this.failedInSync = new AtomicIntegerArray(copies.size());
        this.behind = new AtomicLongArray(copies.size());
        for (int i = 0; i < copies.size(); i++) {
            lags.add(new ConcurrentLinkedQueue<>());
        }
        this.listener = listener;
        this.size = copies.stream().mapToLong(BlockDevice::size).min().orElseThrow();
    }

    /** Copies over plain devices, each given a deadline and metered (for tests and simple mirrors). */
    static CopySet over(List<BlockDevice> devices, Duration deadline, MirrorListener listener) {
        return new CopySet(devices.stream().map(d -> new MeteredDevice(new DeadlineDevice(d, deadline)))
                .toList(), listener);
    }

    int count() {
        return devices.length();
    }

    /** Bytes every copy holds: the mirror's size. */
    long size() {
        return size;
    }

    MeteredDevice device(int copy) {
        return devices.get(copy);
    }

    List<MeteredDevice> all() {
        List<MeteredDevice> out = new ArrayList<>();
        for (int i = 0; i < devices.length(); i++) {
            out.add(devices.get(i));
        }
        return out;
    }

    boolean isLive(int copy) {
        return failed.get(copy) == null;
    }

    /** In service and up to date (not syncing, not behind on acknowledged updates): may serve reads and vouch for updates. */
    boolean isReadable(int copy) {
        return failed.get(copy) == null && syncing.get(copy) == 0 && behind.get(copy) == 0;
    }

    /** An update acknowledged before this copy finished it, still on its way there. */
    record Lag(long offset, long length, CompletableFuture<Void> done) {
        boolean overlaps(long from, long n) {
            return from < offset + length && offset < from + n;
        }
    }

    /** Bytes of acknowledged updates a copy has not finished yet. */
    long behind(int copy) {
        return behind.get(copy);
    }

    void lagging(int copy, Lag lag) {
        lags.get(copy).add(lag);
        behind.addAndGet(copy, lag.length());
    }

    void caughtUp(int copy, Lag lag) {
        lags.get(copy).remove(lag);
        if (behind.addAndGet(copy, -lag.length()) == 0) {
            availability.changed();
        }
    }

    /** Completes when every lagging update overlapping the range has finished on the copy: updates to a range land in order. */
    CompletableFuture<Void> after(int copy, long offset, long length) {
        List<CompletableFuture<Void>> earlier = new ArrayList<>();
        for (Lag l : lags.get(copy)) {
            if (l.overlaps(offset, length)) {
                earlier.add(l.done().handle((x, e) -> null));
            }
        }
        return earlier.isEmpty() ? CompletableFuture.completedFuture(null)
                : CompletableFuture.allOf(earlier.toArray(CompletableFuture[]::new));
    }

    boolean isSyncing(int copy) {
        return failed.get(copy) == null && syncing.get(copy) == 1;
    }

    /** Every copy in service and up to date. */
    boolean fullyInSync() {
        for (int i = 0; i < devices.length(); i++) {
            if (failed.get(i) != null || syncing.get(i) != 0 || behind.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Copies that take writes (in service, including those being resynchronised). */
    List<Integer> live() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < devices.length(); i++) {
            if (failed.get(i) == null) {
                out.add(i);
            }
        }
        return out;
    }

    /** Copies whose data is up to date and may serve reads. */
    List<Integer> readable() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < devices.length(); i++) {
            if (isReadable(i)) {
                out.add(i);
            }
        }
        return out;
    }

    /**
     * The copy a read should go to: the lowest recent latency × (queue + 1), so a distant or slow
     * copy serves less, not none (its estimate decays back as it answers). The scan starts at a
     * rotating position, so ties — a client reading one small request at a time from equal
     * copies — are spread over every copy instead of always landing on the first.
     */
    int leastBusy(List<Integer> candidates) {
        int n = candidates.size();
        int turn = rotation.getAndIncrement();
        int start = Math.floorMod(turn, n);
        int best = candidates.get(start);
        if (Math.floorMod(turn, EXPLORE_EVERY) == 0) {
            // Now and then the copy whose turn it is, whatever its estimate: a copy that was slow
            // once keeps being measured, and comes back into use when it is fast again.
            return best;
        }
        for (int i = 1; i < n; i++) {
            int c = candidates.get((start + i) % n);
            // Only a clearly cheaper copy wins; between equals the rotation decides, so equal
            // copies share the reads evenly.
            if (devices.get(c).cost() * 1.5 < devices.get(best).cost()) {
                best = c;
            }
        }
        return best;
    }

    /** Shares of a large read in proportion to each copy's recent speed (inverse latency), summing to 1. */
    double[] readShares(List<Integer> candidates) {
        double[] speed = new double[candidates.size()];
        double total = 0;
        for (int i = 0; i < speed.length; i++) {
            speed[i] = 1 / Math.max(1, devices.get(candidates.get(i)).cost());
            total += speed[i];
        }
        for (int i = 0; i < speed.length; i++) {
            speed[i] /= total;
        }
        return speed;
    }

    /** Takes a copy out of service (an administrator's `fail`, or an error seen on it). */
    void fail(int copy, Throwable cause) {
        if (failed.compareAndSet(copy, null, cause)) {
            failedInSync.set(copy, syncing.get(copy) == 0 && behind.get(copy) == 0 ? 1 : 0);
            failedOrder.set(copy, failures.incrementAndGet());
            LOG.warning("copy " + copy + " (" + devices.get(copy) + ") failed: " + BlockDeviceException.unwrap(cause).getMessage());
            listener.copyFailed(copy, cause);
        }
    }

    /**
     * With every copy failed, the one that was up to date and failed last (-1 if none): it holds
     * every acknowledged update, since an update is acknowledged only while a copy that took it is
     * still up to date and in service.
     */
    int lastToFail() {
        int last = -1;
        for (int i = 0; i < devices.length(); i++) {
            if (failed.get(i) != null && failedInSync.get(i) == 1
                    && (last < 0 || failedOrder.get(i) > failedOrder.get(last))) {
                last = i;
            }
        }
        return last;
    }

    /** The copy takes writes from now on but serves no reads: a resync is about to bring it up to date. */
    void startSync(int copy) {
        syncing.set(copy, 1);
        failed.set(copy, null);
    }

    /** Ends a resync: the copy serves reads again — unless it failed meanwhile, which ends the resync in failure. */
    void finishSync(int copy) {
        if (failed.get(copy) != null) {
            throw new IllegalStateException("copy " + copy + " failed during its resync");
        }
        syncing.set(copy, 0);
        if (failed.get(copy) != null) {
            throw new IllegalStateException("copy " + copy + " failed during its resync");
        }
        availability.changed();
    }

    /**
     * Takes out a copy that was not up to date to begin with (missing or stale at assembly): it
     * can never be the copy a group comes back from after an outage.
     */
    void failStale(int copy, Throwable cause) {
        fail(copy, cause);
        failedInSync.set(copy, 0);
    }

    /** Puts a copy back in service; its data must already be up to date. */
    void restore(int copy) {
        syncing.set(copy, 0);
        failed.set(copy, null);
        availability.changed();
    }

    /**
     * Puts a new device in a failed copy's place (a reconnected or a replacement replica); it takes
     * part again only through a resync. Returns the device it replaced, for the caller to close.
     */
    MeteredDevice replace(int copy, MeteredDevice device) {
        if (failed.get(copy) == null) {
            throw new IllegalStateException("copy " + copy + " is in service; fail it first");
        }
        if (device.size() < size) {
            throw new IllegalArgumentException("the new device has " + device.size() + " bytes; the mirror needs " + size);
        }
        return devices.getAndSet(copy, device);
    }
}
