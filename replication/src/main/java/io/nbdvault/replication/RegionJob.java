package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;

import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A background job over one mirror group's data (a resync, a scrub) that walks its byte ranges a
 * step at a time, each step with the group's client writes paused so no write can be overtaken by
 * the job's older data, at most {@code rate} bytes a second (0: unlimited). It lives outside the
 * data path, like qemu's block jobs: it can be cancelled (it stops at the next step and its result
 * fails with {@link CancellationException}), and it reports progress in bytes.
 *
 * <p>Threads: each step is started on {@code control} (the array's control thread, which also
 * times the rate limit), never on an I/O thread, so the walk is not one deep recursion.
 */
abstract class RegionJob {
    static final int STEP = 1 << 20;

    private final WriteGate gate;
    private final List<long[]> ranges;
    private final long total;
    private final long rate;
    private final ProgressListener progress;
    private final ScheduledExecutorService control;
    private final CompletableFuture<Long> result = new CompletableFuture<>();
    private volatile boolean cancelled;
    /** A step's I/O is in flight (touched only on the control thread). */
    private boolean stepRunning;
    private long start;

    RegionJob(WriteGate gate, List<long[]> ranges, long rate, ProgressListener progress, ScheduledExecutorService control) {
        this.gate = gate;
        this.ranges = ranges;
        this.total = ranges.stream().mapToLong(r -> r[1]).sum();
        this.rate = rate;
        this.progress = progress;
        this.control = control;
        progress.progress(0, total);
    }

    /** One step: {@code n} bytes at {@code pos}, with writes paused; completes with what it counts (bytes, mismatches). */
    protected abstract CompletableFuture<Long> step(long pos, int n);

    /** After the last step, on the control thread. */
    protected void finished() {
    }

    final long totalBytes() {
        return total;
    }

    final CompletableFuture<Long> start() {
        start = System.nanoTime();
        later(0, () -> next(0, 0, 0, 0));
        return result;
    }

    /**
     * Stops at the next step boundary (at once if no step is in flight, even while it waits out
     * its rate limit); the result fails with a CancellationException.
     */
    final void cancel() {
        cancelled = true;
        later(0, () -> {
            if (!stepRunning) {
                result.completeExceptionally(new CancellationException("cancelled"));
            }
        });
    }

    final CompletableFuture<Long> result() {
        return result;
    }

    private void later(long delayNanos, Runnable r) {
        try {
            if (delayNanos > 0) {
                control.schedule(r, delayNanos, TimeUnit.NANOSECONDS);
            } else {
                ((Executor) control).execute(r);
            }
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new CancellationException("the array is shutting down"));
        }
    }

    private void next(int range, long within, long done, long counted) {
        if (result.isDone()) {
            return;
        }
        if (cancelled) {
            result.completeExceptionally(new CancellationException("cancelled after " + done + " of " + total + " bytes"));
            return;
        }
        if (range >= ranges.size()) {
            try {
                finished();
                progress.progress(total, total);
                result.complete(counted);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
            return;
        }
        long[] r = ranges.get(range);
        if (within >= r[1]) {
            next(range + 1, 0, done, counted);
            return;
        }
        long pos = r[0] + within;
        int n = (int) Math.min(STEP, r[1] - within);
        stepRunning = true;
        gate.pause().thenCompose(drained -> step(pos, n)).whenComplete((found, error) -> {
            gate.resume();
            if (error != null) {
                result.completeExceptionally(BlockDeviceException.unwrap(error));
                return;
            }
            long now = done + n;
            progress.progress(now, total);
            long delayNanos = rate <= 0 ? 0 : (long) (now * 1e9 / rate) - (System.nanoTime() - start);
            // The step's I/O is over: from here a cancel ends the job at once, even during the rate-limit wait.
            later(0, () -> {
                stepRunning = false;
                if (cancelled) {
                    result.completeExceptionally(new CancellationException("cancelled after " + now + " of " + total + " bytes"));
                    return;
                }
                later(delayNanos, () -> next(range, within + n, now, counted + found));
            });
        });
    }
}
