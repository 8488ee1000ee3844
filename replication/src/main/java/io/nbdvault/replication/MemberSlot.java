package io.nbdvault.replication;

import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One position (group, copy) of the array and everything known about the member holding it: how it
 * is reached, its id and role as the metadata records them, whether an administrator failed it,
 * whether an operation (re-add, replace, resync) owns it now, its probe backoff and resync
 * progress, and the last superblock write sent to it (so superblocks land in event order).
 *
 * <p>Threads: written only on the array's control thread (single writer); the fields are volatile
 * so status and the data path may read them from any thread without a lock.
 */
final class MemberSlot {
    final int index;
    final int group;
    final int copy;
    volatile MemberIo io;
    /** Where the member was last reached (its name when present; else what the address book recorded). */
    volatile String address = "";
    volatile UUID memberId;
    volatile MemberRole.State role;
    volatile boolean adminFailed;
    /** Claimed by a re-add, replace, probe or resync: nothing else may start on this slot. */
    volatile boolean busy;
    volatile int probeFailures;
    volatile long nextProbeNanos;
    /** When its copy last failed: it is not probed before a probe interval has passed. */
    volatile long failedAtNanos;
    final AtomicLong synced = new AtomicLong();
    final AtomicLong syncTotal = new AtomicLong();
    volatile CompletableFuture<Void> lastMetadataWrite = CompletableFuture.completedFuture(null);

    MemberSlot(int index, int copies, MemberIo io, UUID memberId, MemberRole.State role) {
        this.index = index;
        this.group = index / copies;
        this.copy = index % copies;
        this.io = io;
        this.memberId = memberId;
        this.role = role;
    }

    /** The name a user knows the member by: its URI or path, else its id. */
    String name() {
        MemberIo m = io;
        return m != null ? m.name() : memberId.toString();
    }

    boolean claim() {
        if (busy) {
            return false;
        }
        busy = true;
        return true;
    }

    void release() {
        busy = false;
    }
}
