package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.DeadlineDevice;
import io.nbdvault.core.Futures;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * Holds the array's {@link Lease} on every member in service: checked at assembly and when a
 * member returns, renewed a third of a term at a time, given up on a clean shutdown.
 *
 * <p>Threads: {@link #renew} and {@link #giveUp} run on the control thread and only start writes.
 */
final class Leases {
    private static final Logger LOG = Logger.getLogger(Leases.class.getName());
    static final Duration TERM = Duration.ofSeconds(20);

    private final Membership membership;

    Leases(Membership membership) {
        this.membership = membership;
    }

    /** Refuses members that another live nbdvault holds, unless {@code force}. Blocks: for assembly only. */
    static void refuseHeld(Map<Member, Superblock> found, Duration deadline, boolean force) throws IOException {
        long now = System.currentTimeMillis();
        for (Member m : found.keySet()) {
            Lease lease = ReplicatedArray.join(MetadataIo.readLease(new DeadlineDevice(m.device(), deadline, m.name())));
            if (lease != null && lease.heldByAnother(now) && !force) {
                throw new InvalidMetadataException(m.name() + " is in use by " + lease.describe()
                        + "; stop that server, wait for its lease to expire, or use --force");
            }
        }
    }

    /** Fails unless {@code io}'s lease is free for us: a member coming back must not be taken from another server. */
    static CompletableFuture<Void> checkFree(MemberIo io) {
        return MetadataIo.readLease(io.metadata()).thenAccept(lease -> {
            if (lease != null && lease.heldByAnother(System.currentTimeMillis())) {
                throw new java.util.concurrent.CompletionException(new IllegalStateException(
                        io.name() + " is in use by " + lease.describe()));
            }
        });
    }

    CompletableFuture<Void> renew() {
        return writeAll(Lease.ours(System.currentTimeMillis() + TERM.toMillis()));
    }

    CompletableFuture<Void> giveUp() {
        return writeAll(Lease.ours(0));
    }

    private CompletableFuture<Void> writeAll(Lease lease) {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < membership.size(); i++) {
            MemberSlot s = membership.slot(i);
            MemberIo io = s.io;
            CopySet copies = membership.copiesOf(s);
            if (io == null || !copies.isLive(s.copy)) {
                continue;
            }
            writes.add(MetadataIo.writeLease(io.metadata(), lease).exceptionally(e -> {
                LOG.warning("lease write to " + io.name() + " failed: " + BlockDeviceException.unwrap(e).getMessage());
                copies.fail(s.copy, e);
                return null;
            }));
        }
        return Futures.all(writes);
    }
}
