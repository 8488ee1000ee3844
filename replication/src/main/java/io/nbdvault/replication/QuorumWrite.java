package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntFunction;

/**
 * One update fanned out to every copy in service with a write quorum (md's write-behind, DRBD's
 * protocol A): it is acknowledged once {@code quorum} up-to-date copies took it (durably, for FUA
 * and flush), and settles when every copy has answered. A copy still working on an acknowledged
 * update is behind: it serves no reads and vouches for nothing until it has caught up, later
 * updates to the same range reach it only after the earlier ones, and a copy more than
 * {@code maxLag} bytes behind must take the next update before it is acknowledged (back-pressure).
 * A copy that errors is failed; the deadline under each copy bounds how long one can lag. The
 * quorum always includes the first up-to-date copy in slot order (like md, where only write-mostly
 * devices may lag): list a distant replica after the near ones.
 * Without a quorum (0) every copy must answer, as before.
 */
final class QuorumWrite {
    /** Acknowledged: what the client waits for. Settled: every copy answered (the write-intent bit may go). */
    record Outcome(CompletableFuture<Void> acknowledged, CompletableFuture<Void> settled) {
    }

    private static final int PENDING = 0;
    private static final int DONE = 1;
    private static final int LAGGING = 2;

    private QuorumWrite() {
    }

    static Outcome run(CopySet copies, int quorum, long maxLag, long offset, long length,
                       IntFunction<CompletableFuture<Void>> op, String what) {
        List<Integer> targets = copies.live();
        CompletableFuture<Void> ack = new CompletableFuture<>();
        CompletableFuture<Void> settled = new CompletableFuture<>();
        if (targets.isEmpty()) {
            ack.completeExceptionally(new BlockDeviceException(Errno.EIO, what + ": no copy in service"));
            settled.complete(null);
            return new Outcome(ack, settled);
        }
        int n = targets.size();
        AtomicIntegerArray state = new AtomicIntegerArray(n);
        boolean[] ok = new boolean[n];
        boolean[] mustTake = new boolean[n];
        CopySet.Lag[] lags = new CopySet.Lag[n];
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] earlier = new CompletableFuture[n];
        AtomicInteger remaining = new AtomicInteger(n);
        java.util.concurrent.atomic.AtomicBoolean decided = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable check = () -> tryAcknowledge(copies, targets, quorum, state, ok, mustTake, lags, offset, length, decided, ack,
                settled);
        for (int i = 0; i < n; i++) {
            // All set up before the first copy is asked: a copy may answer at once, and the check it runs sees every target.
            mustTake[i] = quorum > 0 && copies.behind(targets.get(i)) > maxLag;
            lags[i] = new CopySet.Lag(offset, length, new CompletableFuture<>());
            // Only updates acknowledged before this one: it may itself lag before the loop below ends.
            earlier[i] = copies.after(targets.get(i), offset, length);
        }
        for (int i = 0; i < n; i++) {
            int copy = targets.get(i);
            int index = i;
            // thenCompose turns an exception op throws into a failed stage.
            earlier[index].thenCompose(x -> op.apply(copy)).whenComplete((x, error) -> {
                synchronized (ok) {
                    ok[index] = error == null;
                }
                if (error != null) {
                    copies.fail(copy, error);
                }
                if (state.getAndSet(index, DONE) == LAGGING) {
                    copies.caughtUp(copy, lags[index]);
                }
                lags[index].done().complete(null);
                if (remaining.decrementAndGet() == 0) {
                    settled.complete(null);
                }
                check.run();
            });
        }
        return new Outcome(ack, settled);
    }

    private static void tryAcknowledge(CopySet copies, List<Integer> targets, int quorum, AtomicIntegerArray state,
                                       boolean[] ok, boolean[] mustTake, CopySet.Lag[] lags, long offset, long length,
                                       java.util.concurrent.atomic.AtomicBoolean decided, CompletableFuture<Void> ack,
                                       CompletableFuture<Void> settled) {
        if (decided.get()) {
            return;
        }
        int vouching = 0;
        boolean waitingForMust = false;
        // The anchor: the first target, in slot order, still up to date. Every acknowledged update
        // is on it, so it is always a safe source — for reads now, and for the resync after a
        // crash, which copies the marked regions from the first current copy.
        boolean anchorDone = false;
        boolean anchorSeen = false;
        synchronized (ok) {
            for (int i = 0; i < targets.size(); i++) {
                boolean done = state.get(i) == DONE;
                boolean readable = copies.isReadable(targets.get(i));
                if (done && ok[i] && readable) {
                    vouching++;
                }
                if (!anchorSeen && readable) {
                    anchorSeen = true;
                    anchorDone = done && ok[i];
                }
                waitingForMust |= mustTake[i] && !done;
            }
        }
        boolean quorumMet = quorum > 0 && vouching >= quorum && anchorDone && !waitingForMust;
        if (!quorumMet && !settled.isDone()) {
            return;
        }
        if (!decided.compareAndSet(false, true)) {
            return;
        }
        if (vouching == 0) {
            ack.completeExceptionally(new BlockDeviceException(Errno.EIO, "update " + offset + "+" + length
                    + " is on no up-to-date copy in service"));
            return;
        }
        // Copies still working on it are behind from now on, until they finish it — recorded before
        // the client hears of it, so no read or later write can slip past the lag.
        for (int i = 0; i < targets.size(); i++) {
            if (state.get(i) != PENDING) {
                continue;
            }
            // Registered first, withdrawn if the copy finished meanwhile: never left behind forever.
            copies.lagging(targets.get(i), lags[i]);
            if (!state.compareAndSet(i, PENDING, LAGGING)) {
                copies.caughtUp(targets.get(i), lags[i]);
            }
        }
        ack.complete(null);
    }
}
