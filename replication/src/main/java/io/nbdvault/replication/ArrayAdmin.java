package io.nbdvault.replication;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Requests;

import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.logging.Logger;

/**
 * What an administrator does to a running array — `fail`, `replace`, `scrub` — as md's manage
 * mode does (re-add lives with the other ways back, in {@link MemberReturns}).
 *
 * <p>Threads: every method runs on the control thread; continuations come back to it.
 */
final class ArrayAdmin {
    private static final Logger LOG = Logger.getLogger(ArrayAdmin.class.getName());

    private final ArrayParts parts;
    private final Membership membership;
    private final MemberReturns returns;

    ArrayAdmin(ArrayParts parts, MemberReturns returns) {
        this.parts = parts;
        this.membership = parts.membership();
        this.returns = returns;
    }

    /**
     * Takes a member out of service; it stays out (no probing) until re-added. The last
     * up-to-date copy of a group is refused without {@code force}, as md refuses to fail the last
     * working device: the volume would stop.
     */
    CompletableFuture<Void> fail(String name, boolean force) {
        MemberSlot s = membership.slotOf(name);
        CopySet copies = membership.copiesOf(s);
        if (!force && copies.readable().equals(java.util.List.of(s.copy))) {
            throw new IllegalStateException(name + " is the last up-to-date copy of group " + s.group
                    + "; failing it would stop the volume (use --force to fail it anyway)");
        }
        s.adminFailed = true;
        membership.copiesOf(s).fail(s.copy, new IOException("failed by the administrator"));
        return Requests.done();
    }

    /**
     * Puts {@code newName} in {@code oldName}'s place (like `mdadm --replace` without a spare): the
     * old member leaves, the new one gets fresh metadata and a full rebuild at no more than
     * {@code rate} bytes a second (0: unlimited). Completes when the rebuild has started.
     */
    CompletableFuture<Void> replace(String oldName, String newName, long rate, boolean force) {
        MemberSlot s = membership.slotOf(oldName);
        if (!force && membership.copiesOf(s).readable().equals(java.util.List.of(s.copy))) {
            throw new IllegalStateException(oldName + " is the last up-to-date copy of group " + s.group
                    + "; replacing it would leave nothing to rebuild from (use --force to replace it anyway)");
        }
        if (parts.options().opener() == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("this array cannot open new members"));
        }
        return returns.reopen(newName, null).thenComposeAsync(device -> {
            MemberIo io = returns.wrap(newName, device, s.group);
            return MetadataIo.read(io.metadata()).handleAsync((existing, error) -> {
                Throwable cause = error == null ? null : BlockDeviceException.unwrap(error);
                if (cause != null && !(cause instanceof InvalidMetadataException)) {
                    // Not "no metadata": the device did not answer, so nothing is known of what it holds.
                    throw new CompletionException(new IOException("cannot read " + newName + ": " + cause.getMessage(), cause));
                }
                if (existing != null && existing.array().equals(membership.arrayId)) {
                    throw new IllegalArgumentException(newName + " is already a member of this array; use re-add");
                }
                return force ? CompletableFuture.completedFuture(java.util.Optional.<String>empty())
                        : ExistingContent.of(io.raw(), parts.options().requestTimeout());
            }, parts.control()).thenCompose(f -> f).thenComposeAsync(held -> {
                if (held.isPresent()) {
                    throw new IllegalArgumentException(newName + " already holds " + held.get() + "; use --force to overwrite it");
                }
                return replaceWith(s, io, rate);
            }, parts.control()).whenComplete((x, error) -> {
                if (error != null && s.io != io) {
                    io.close();
                }
            });
        }, parts.control());
    }

    private CompletableFuture<Void> replaceWith(MemberSlot s, MemberIo replacement, long rate) {
        if (!s.claim()) {
            throw new IllegalStateException(s.name() + " is being resynchronised; wait for it to finish");
        }
        CopySet copies = membership.copiesOf(s);
        String oldName = s.name();
        UUID newId = UUID.randomUUID();
        // The newcomer's first superblock names it in the slot; the slot itself changes only once that is written.
        java.util.List<MemberRole> roles = new java.util.ArrayList<>(membership.roles());
        roles.set(s.index, new MemberRole(newId, MemberRole.State.REBUILDING));
        Superblock first = new Superblock(membership.arrayId, newId, s.group, s.copy, membership.geometry,
                membership.events(), false, roles);
        return MetadataIo.write(replacement.metadata(), first).thenComposeAsync(x -> {
            s.adminFailed = false;
            copies.fail(s.copy, new IOException("replaced by the administrator"));
            s.memberId = newId;
            s.role = MemberRole.State.REBUILDING;
            copies.replace(s.copy, replacement.data());
            MemberIo previous = s.io;
            s.io = replacement;
            if (previous != null) {
                previous.close();
            }
            return membership.writeMetadata(false).thenCompose(written -> membership.writeAddresses());
        }, parts.control()).thenRunAsync(() -> {
            LOG.info("replacing " + oldName + " with " + replacement.name() + ": full rebuild"
                    + (rate > 0 ? " at up to " + rate + " bytes/s" : ""));
            returns.startResync(s, false, rate);
        }, parts.control()).whenCompleteAsync((ok, error) -> {
            if (error != null) {
                s.release();
            }
        }, parts.control());
    }

    /** Compares the copies of every group; with {@code repair} makes them agree (by majority). */
    CompletableFuture<Long> scrub(boolean repair) {
        CompletableFuture<Long> total = CompletableFuture.completedFuture(0L);
        for (GroupJobs jobs : parts.jobs()) {
            total = total.thenCompose(sum -> jobs.scrub(repair, ProgressListener.NONE).thenApply(found -> sum + found));
        }
        return total;
    }
}
