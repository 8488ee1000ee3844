package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Errno;
import io.nbdvault.core.Extent;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * RAID-1E over N copies. A write goes to every live copy (the same buffer, no copies made) and
 * succeeds when each has answered and at least one succeeded; a copy that fails or does not answer
 * within the timeout is taken out of service and reported to the {@link MirrorListener}. Reads are
 * spread: large ones are split so every live copy serves a share, small ones go to the least busy
 * copy; a read that fails is retried on another copy and the bad range rewritten from the good data.
 */
public final class MirroredDevice implements BlockDevice {
    private static final Logger LOG = Logger.getLogger(MirroredDevice.class.getName());
    /** Reads at least this large are split across copies so each contributes bandwidth. */
    static final int SPLIT_THRESHOLD = 256 * 1024;
    static final int RESYNC_STEP = 1 << 20;

    private final AtomicReferenceArray<BlockDevice> copies;
    private final Function<BlockDevice, BlockDevice> wrap;
    private volatile WriteIntentBitmap bitmap;
    private final Duration timeout;
    private final MirrorListener listener;
    private final AtomicReferenceArray<Throwable> failed;
    /** Copies that take writes but do not serve reads until a resync has brought them up to date. */
    private final AtomicIntegerArray syncing;
    private final AtomicIntegerArray inFlight;
    private final WriteGate gate = new WriteGate();
    /** Per-copy request latency in microseconds, for `nbdvault status`. */
    private final org.HdrHistogram.ConcurrentHistogram[] latency;
    private CompletableFuture<Long> resyncQueue = CompletableFuture.completedFuture(0L);
    private final long size;

    public MirroredDevice(List<BlockDevice> copies, Duration timeout, MirrorListener listener) {
        this(copies, Function.identity(), timeout, listener);
    }

    /** A mirror over {@code copies} presenting only their first {@code size} bytes (the rest is metadata). */
    public MirroredDevice(List<BlockDevice> copies, long size, Duration timeout, MirrorListener listener) {
        this(copies, d -> new BoundedDevice(d, size), timeout, listener);
    }

    private MirroredDevice(List<BlockDevice> copies, Function<BlockDevice, BlockDevice> wrap, Duration timeout,
                           MirrorListener listener) {
        if (copies.isEmpty()) {
            throw new IllegalArgumentException("a mirror needs at least one copy");
        }
        this.wrap = wrap;
        this.copies = new AtomicReferenceArray<>(copies.stream().map(wrap).toArray(BlockDevice[]::new));
        this.timeout = timeout;
        this.listener = listener;
        this.failed = new AtomicReferenceArray<>(copies.size());
        this.inFlight = new AtomicIntegerArray(copies.size());
        this.syncing = new AtomicIntegerArray(copies.size());
        this.latency = new org.HdrHistogram.ConcurrentHistogram[copies.size()];
        for (int i = 0; i < latency.length; i++) {
            latency[i] = new org.HdrHistogram.ConcurrentHistogram(3);
        }
        this.size = all().stream().mapToLong(BlockDevice::size).min().orElseThrow();
    }

    private List<BlockDevice> all() {
        List<BlockDevice> out = new ArrayList<>();
        for (int i = 0; i < copies.length(); i++) {
            out.add(copies.get(i));
        }
        return out;
    }

    /** From now on every update first marks its regions in {@code bits}. */
    void useBitmap(WriteIntentBitmap bits) {
        this.bitmap = bits;
    }

    /**
     * Puts a new device in a failed copy's place (a reconnected or a replacement replica); it takes
     * part again only through {@link #resync}. The old device is closed.
     */
    public void replaceCopy(int copy, BlockDevice device) {
        if (failed.get(copy) == null) {
            throw new IllegalStateException("copy " + copy + " is in service; fail it first");
        }
        BlockDevice wrapped = wrap.apply(device);
        if (wrapped.size() < size) {
            throw new IllegalArgumentException("the new device has " + wrapped.size() + " bytes; the mirror needs " + size);
        }
        BlockDevice old = copies.getAndSet(copy, wrapped);
        old.close();
    }

    public int copyCount() {
        return copies.length();
    }

    /** Every copy is in service and up to date. */
    public boolean fullyInSync() {
        for (int i = 0; i < copies.length(); i++) {
            if (failed.get(i) != null || syncing.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    public boolean isLive(int copy) {
        return failed.get(copy) == null;
    }

    /** Takes a copy out of service (an administrator's `fail`, or an error seen here). */
    public void fail(int copy, Throwable cause) {
        if (failed.compareAndSet(copy, null, cause)) {
            LOG.warning("copy " + copy + " (" + copies.get(copy) + ") failed: " + BlockDeviceException.unwrap(cause).getMessage());
            listener.copyFailed(copy, cause);
        }
    }

    /** Puts a copy back in service; its data must already have been brought up to date. */
    public void restore(int copy) {
        syncing.set(copy, 0);
        failed.set(copy, null);
    }

    /** Latency percentiles of requests to a copy, in microseconds: {p50, p99, p99.9, count}. */
    public long[] latencyMicros(int copy) {
        org.HdrHistogram.Histogram h = latency[copy].copy();
        return new long[] {h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9),
                h.getTotalCount()};
    }

    public boolean isSyncing(int copy) {
        return failed.get(copy) == null && syncing.get(copy) == 1;
    }

    /** A full resync of {@code target}: every byte copied. */
    public CompletableFuture<Long> resync(int target, long bytesPerSecond, ProgressListener progress) {
        return resync(target, false, bytesPerSecond, progress);
    }

    /**
     * Brings {@code target} up to date from a readable copy while the volume stays in use: the copy
     * takes writes at once, and each region is copied with client writes paused, so no write can be
     * overtaken by older data. With {@code onlyDirty}, only the regions set in the write-intent
     * bitmap are copied (the copy missed nothing else). Completes with the bytes copied; the copy
     * then serves reads again.
     */
    public CompletableFuture<Long> resync(int target, boolean onlyDirty, long bytesPerSecond, ProgressListener progress) {
        syncing.set(target, 1);
        failed.set(target, null);
        // Taken after the copy joined: any write it did not see had set its bit before that.
        WriteIntentBitmap bits = bitmap;
        List<long[]> ranges = onlyDirty && bits != null ? bits.dirtyRanges(size) : List.of(new long[] {0, size});
        long total = ranges.stream().mapToLong(r -> r[1]).sum();
        progress.progress(0, total);
        // One resync at a time per mirror: each pauses writes step by step, and they share the source.
        synchronized (this) {
            CompletableFuture<Long> mine = resyncQueue.handle((x, e) -> null).thenCompose(x -> new ResyncRun(target, ranges,
                    total, bytesPerSecond, progress).next(0, 0, 0));
            resyncQueue = mine;
            return mine;
        }
    }

    /** One resync: walks its ranges a step at a time, at most {@code rate} bytes a second. */
    private final class ResyncRun {
        final int target;
        final List<long[]> ranges;
        final long total;
        final long rate;
        final ProgressListener progress;
        final long start = System.nanoTime();

        ResyncRun(int target, List<long[]> ranges, long total, long rate, ProgressListener progress) {
            this.target = target;
            this.ranges = ranges;
            this.total = total;
            this.rate = rate;
            this.progress = progress;
        }

        CompletableFuture<Long> next(int range, long within, long copied) {
            if (failed.get(target) != null) {
                return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO,
                        "copy " + target + " failed during resync", failed.get(target)));
            }
            if (range >= ranges.size()) {
                restore(target);
                progress.progress(total, total);
                return CompletableFuture.completedFuture(copied);
            }
            long[] r = ranges.get(range);
            if (within >= r[1]) {
                return next(range + 1, 0, copied);
            }
            List<Integer> sources = readable();
            if (sources.isEmpty()) {
                return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no up-to-date copy to resync from"));
            }
            long pos = r[0] + within;
            int n = (int) Math.min(RESYNC_STEP, r[1] - within);
            int source = leastBusy(sources);
            CompletableFuture<Void> step = gate.pause().thenCompose(drained -> onCopy(source, d -> d.read(pos, n)))
                    .thenCompose(data -> onCopy(target, d -> d.write(pos, data, 0)).whenComplete((ok, e) -> data.release()))
                    .whenComplete((ok, e) -> gate.resume());
            return step.handle((ok, error) -> {
                if (error != null) {
                    fail(target, error);
                    return CompletableFuture.<Long>failedFuture(BlockDeviceException.unwrap(error));
                }
                long done = copied + n;
                progress.progress(done, total);
                long delayNanos = rate <= 0 ? 0 : (long) (done * 1e9 / rate) - (System.nanoTime() - start);
                if (delayNanos > 0) {
                    return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(delayNanos,
                            TimeUnit.NANOSECONDS)).thenCompose(x -> next(range, within + n, done));
                }
                return next(range, within + n, done);
            }).thenCompose(f -> f);
        }
    }

    /**
     * Compares the readable copies region by region (writes paused for each region, so a write in
     * flight is never mistaken for a mismatch) and, with {@code repair}, rewrites the others from the
     * first copy. Completes with the number of mismatched regions found.
     */
    public CompletableFuture<Long> scrub(boolean repair, ProgressListener progress) {
        synchronized (this) {
            CompletableFuture<Long> mine = resyncQueue.handle((x, e) -> null)
                    .thenCompose(x -> scrubFrom(0, 0, repair, progress));
            resyncQueue = mine;
            return mine;
        }
    }

    private CompletableFuture<Long> scrubFrom(long pos, long mismatches, boolean repair, ProgressListener progress) {
        if (pos >= size) {
            progress.progress(size, size);
            return CompletableFuture.completedFuture(mismatches);
        }
        int n = (int) Math.min(RESYNC_STEP, size - pos);
        List<Integer> sources = readable();
        if (sources.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no readable copy to scrub"));
        }
        CompletableFuture<Boolean> step = gate.pause().thenCompose(drained -> {
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int c : sources) {
                reads.add(onCopy(c, d -> d.read(pos, n)));
            }
            return CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).handle((ok, error) -> {
                if (error != null) {
                    reads.forEach(r -> r.thenAccept(ByteBuf::release));
                    throw new CompletionException(BlockDeviceException.unwrap(error));
                }
                return reads.stream().map(CompletableFuture::join).toList();
            }).thenCompose(copiesData -> {
                ByteBuf first = copiesData.get(0);
                boolean mismatch = false;
                List<CompletableFuture<Void>> fixes = new ArrayList<>();
                for (int i = 1; i < copiesData.size(); i++) {
                    if (!io.netty.buffer.ByteBufUtil.equals(first, copiesData.get(i))) {
                        mismatch = true;
                        if (repair) {
                            int copy = sources.get(i);
                            fixes.add(onCopy(copy, d -> d.write(pos, first, WriteFlags.FUA)));
                        }
                    }
                }
                boolean found = mismatch;
                return CompletableFuture.allOf(fixes.toArray(CompletableFuture[]::new))
                        .whenComplete((ok, e) -> copiesData.forEach(ByteBuf::release))
                        .thenApply(ok -> found);
            });
        }).whenComplete((ok, e) -> gate.resume());
        return step.thenCompose(found -> {
            progress.progress(pos + n, size);
            return scrubFrom(pos + n, mismatches + (found ? 1 : 0), repair, progress);
        });
    }

    /** Copies that take writes (in service, including those being resynced). */
    private List<Integer> live() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < copies.length(); i++) {
            if (failed.get(i) == null) {
                out.add(i);
            }
        }
        return out;
    }

    /** Copies whose data is up to date and may serve reads. */
    private List<Integer> readable() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < copies.length(); i++) {
            if (failed.get(i) == null && syncing.get(i) == 0) {
                out.add(i);
            }
        }
        return out;
    }

    private <T> CompletableFuture<T> onCopy(int copy, Function<BlockDevice, CompletableFuture<T>> op) {
        inFlight.incrementAndGet(copy);
        CompletableFuture<T> f;
        try {
            f = op.apply(copies.get(copy));
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        long start = System.nanoTime();
        return io.nbdvault.core.Timeouts.within(f, timeout.toMillis())
                .whenComplete((r, e) -> {
                    inFlight.decrementAndGet(copy);
                    latency[copy].recordValue(Math.max(0, (System.nanoTime() - start) / 1000));
                });
    }

    /** Runs an update on every live copy; fails only if no copy succeeded. */
    private CompletableFuture<Void> everywhere(Function<BlockDevice, CompletableFuture<Void>> op) {
        List<Integer> targets = live();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no live copy left in the mirror"));
        }
        List<CompletableFuture<Boolean>> results = new ArrayList<>();
        for (int copy : targets) {
            results.add(onCopy(copy, op).handle((ok, error) -> {
                if (error != null) {
                    fail(copy, error);
                    return false;
                }
                return true;
            }));
        }
        return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).thenApply(x -> {
            if (results.stream().noneMatch(CompletableFuture::join)) {
                throw new CompletionException(new BlockDeviceException(Errno.EIO, "the update failed on every copy"));
            }
            return null;
        });
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return all().stream().mapToInt(BlockDevice::blockSize).max().orElse(512);
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = copies.get(0).capabilities();
        for (BlockDevice d : all()) {
            c = c.and(d.capabilities());
        }
        return c;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        List<Integer> targets = readable();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no live copy left in the mirror"));
        }
        if (length < SPLIT_THRESHOLD || targets.size() == 1) {
            return readFrom(leastBusy(targets), offset, length, new ArrayList<>());
        }
        // Each live copy serves one contiguous share, aligned to 4 KiB.
        int share = ((length / targets.size()) + 4095) & ~4095;
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>();
        int i = 0;
        for (int pos = 0; pos < length; pos += share, i++) {
            int n = Math.min(share, length - pos);
            parts.add(readFrom(targets.get(i % targets.size()), offset + pos, n, new ArrayList<>()));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((ok, error) -> {
            if (error != null) {
                parts.forEach(p -> p.thenAccept(ByteBuf::release));
                throw new CompletionException(BlockDeviceException.unwrap(error));
            }
            CompositeByteBuf whole = ByteBufAllocator.DEFAULT.compositeBuffer(parts.size());
            parts.forEach(p -> whole.addComponent(true, p.join()));
            return whole;
        });
    }

    /** Reads from {@code copy}; on failure tries the other live copies, then repairs the failed ones. */
    private CompletableFuture<ByteBuf> readFrom(int copy, long offset, int length, List<Integer> bad) {
        return onCopy(copy, d -> d.read(offset, length)).handle((data, error) -> {
            if (error == null) {
                repair(bad, offset, data);
                return CompletableFuture.completedFuture(data);
            }
            if (BlockDeviceException.unwrap(error) instanceof java.util.concurrent.TimeoutException) {
                fail(copy, new BlockDeviceException(Errno.EIO, "read timed out after " + timeout.toMillis() + " ms"));
            } else {
                bad.add(copy);
            }
            List<Integer> others = readable().stream().filter(c -> c != copy && !bad.contains(c)).toList();
            if (others.isEmpty()) {
                bad.forEach(c -> fail(c, error));
                return CompletableFuture.<ByteBuf>failedFuture(new BlockDeviceException(Errno.EIO,
                        "read " + offset + "+" + length + " failed on every copy", BlockDeviceException.unwrap(error)));
            }
            return readFrom(leastBusy(others), offset, length, bad);
        }).thenCompose(f -> f);
    }

    /** Rewrites a range on copies whose read failed; a copy that cannot take the rewrite is failed. */
    private void repair(List<Integer> bad, long offset, ByteBuf good) {
        for (int copy : bad) {
            ByteBuf data = good.retainedDuplicate();
            int length = data.readableBytes();
            onCopy(copy, d -> d.write(offset, data, WriteFlags.FUA)).whenComplete((ok, error) -> {
                data.release();
                if (error != null) {
                    fail(copy, error);
                } else {
                    LOG.info("repaired " + length + " bytes at " + offset + " on copy " + copy);
                }
            });
        }
    }

    private int leastBusy(List<Integer> candidates) {
        int best = candidates.get(0);
        for (int c : candidates) {
            if (inFlight.get(c) < inFlight.get(best)) {
                best = c;
            }
        }
        return best;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        return gated(offset, data.readableBytes(), () -> everywhere(d -> d.write(offset, data, flags)));
    }

    /** An update: waits out a resync step, marks its regions in the bitmap, then goes to every live copy. */
    private CompletableFuture<Void> gated(long offset, long length, java.util.function.Supplier<CompletableFuture<Void>> update) {
        WriteIntentBitmap bits = bitmap;
        if (bits == null) {
            return gate.enter().thenCompose(x -> update.get()).whenComplete((ok, e) -> gate.exit());
        }
        return gate.enter().thenCompose(x -> bits.begin(offset, length)
                .thenCompose(marked -> update.get())
                .whenComplete((ok, e) -> bits.end(offset, length)))
                .whenComplete((ok, e) -> gate.exit());
    }

    @Override
    public CompletableFuture<Void> flush() {
        return everywhere(BlockDevice::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return gated(offset, length, () -> everywhere(d -> d.trim(offset, length, flags)));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return gated(offset, length, () -> everywhere(d -> d.writeZeroes(offset, length, flags)));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        List<Integer> targets = readable();
        if (targets.isEmpty()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(Errno.EIO, "no live copy left in the mirror"));
        }
        return onCopy(targets.get(0), d -> d.blockStatus(offset, length));
    }

    @Override
    public void close() {
        all().forEach(BlockDevice::close);
    }
}
