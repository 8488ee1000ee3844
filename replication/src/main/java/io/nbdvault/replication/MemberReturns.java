package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Futures;
import io.nbdvault.core.Timeouts;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * How members come back: failed members are probed (with backoff) and taken back when they answer,
 * members unreachable at assembly join when they answer, an administrator re-adds one; each is
 * reopened (within the request timeout: one that answers later is closed), checked to be this
 * array's member, and resynchronised — from the write-intent bitmap when that covers its absence.
 *
 * <p>Threads: every method runs on the control thread, and continuations come back to it; nothing
 * here blocks.
 */
final class MemberReturns {
    private static final Logger LOG = Logger.getLogger(MemberReturns.class.getName());
    private static final long MAX_PROBE_BACKOFF_MILLIS = 60_000;

    private final ArrayParts parts;
    private final Membership membership;
    /** Members named at assembly that could not be reached: probed, and joined when they answer. */
    private final List<String> unreachable = new CopyOnWriteArrayList<>();
    private final Set<String> joining = ConcurrentHashMap.newKeySet();
    private final List<CompletableFuture<Long>> resyncs = new CopyOnWriteArrayList<>();

    MemberReturns(ArrayParts parts, List<String> unreachable) {
        this.parts = parts;
        this.membership = parts.membership();
        this.unreachable.addAll(unreachable);
    }

    /** Completes when every resync started so far has finished (successfully or not). */
    CompletableFuture<Void> resyncsDone() {
        return Futures.all(resyncs.stream().map(r -> r.handle((x, e) -> null)).toList());
    }

    /** Starts a slot's resync; the slot stays claimed until it ends. */
    CompletableFuture<Long> startResync(MemberSlot s, boolean onlyDirty, long rate) {
        s.busy = true;
        s.synced.set(0);
        CompletableFuture<Long> r = parts.jobs()[s.group].resync(s.copy, onlyDirty, rate, (done, total) -> {
            s.synced.set(done);
            s.syncTotal.set(total);
        }).thenComposeAsync(bytes -> {
            LOG.info(s.name() + " is in sync (" + bytes + " bytes copied" + (onlyDirty ? ", from the write-intent bitmap" : "") + ")");
            s.probeFailures = 0;
            membership.setRole(s, MemberRole.State.ACTIVE);
            return parts.persistBitmap(s.group).handle((ok, e) -> {
                if (e != null) {
                    LOG.warning("the bitmap of group " + s.group + " could not be written after " + s.name()
                            + " joined: " + BlockDeviceException.unwrap(e).getMessage());
                }
                return bytes;
            });
        }, parts.control()).whenCompleteAsync((bytes, error) -> {
            s.release();
            Throwable cause = error == null ? null : BlockDeviceException.unwrap(error);
            if (cause instanceof CancellationException) {
                LOG.info("resync of " + s.name() + " stopped: " + cause.getMessage());
            } else if (cause != null) {
                LOG.warning("resync of " + s.name() + " failed: " + cause.getMessage());
            }
        }, parts.control());
        resyncs.add(r);
        return r;
    }

    /** Failed members (not failed by an administrator) and unreachable ones are tried again, backing off. */
    void probe() {
        long now = System.nanoTime();
        for (int i = 0; i < membership.size(); i++) {
            MemberSlot s = membership.slot(i);
            if (s.io == null || s.adminFailed || s.busy || now < s.nextProbeNanos || membership.copiesOf(s).isLive(s.copy)
                    || now - s.failedAtNanos < parts.options().probeInterval().toNanos()) {
                continue;
            }
            long backoff = Math.min(MAX_PROBE_BACKOFF_MILLIS,
                    parts.options().probeInterval().toMillis() << Math.min(s.probeFailures, 16));
            s.nextProbeNanos = now + TimeUnit.MILLISECONDS.toNanos(backoff);
            int failures = s.probeFailures++;
            takeBack(s).whenComplete((ok, e) -> {
                if (e != null) {
                    // Said once when a member stays away, then quietly until it answers.
                    LOG.log(failures == 0 ? Level.WARNING : Level.FINE, s.name() + " is still unavailable: "
                            + BlockDeviceException.unwrap(e).getMessage());
                }
            });
        }
        for (String name : unreachable) {
            if (joining.add(name)) {
                joinUnreachable(name).whenComplete((ok, e) -> joining.remove(name));
            }
        }
    }

    /** An administrator's `re-add`: completes once the resync has started, with whether it copies only the bitmap's regions. */
    CompletableFuture<Boolean> reAdd(String name) {
        if (unreachable.contains(name)) {
            return joinUnreachable(name);
        }
        MemberSlot s = membership.slotOf(name);
        if (membership.copiesOf(s).isLive(s.copy)) {
            return CompletableFuture.failedFuture(new IllegalStateException(name + " is already in service"));
        }
        s.adminFailed = false;
        s.probeFailures = 0;
        return takeBack(s);
    }

    /** A fresh device for {@code name} through the opener; without one, the device already held. */
    CompletableFuture<BlockDevice> reopen(String name, BlockDevice current) {
        MemberOpener opener = parts.options().opener();
        if (opener == null) {
            return current != null ? CompletableFuture.completedFuture(current)
                    : CompletableFuture.failedFuture(new IOException("cannot reopen " + name + ": no way to open members"));
        }
        CompletableFuture<BlockDevice> opening = Futures.call(() -> opener.open(name));
        // A replica that answers after we gave up is closed, never left connected with its reconnect loop.
        return Timeouts.within(opening, parts.options().requestTimeout().toMillis(), "opening " + name, BlockDevice::close);
    }

    /** The views the array needs of a freshly opened device; the device is closed if it cannot serve. */
    MemberIo wrap(String name, BlockDevice device, int group) {
        try {
            if (device.size() < parts.geometry().memberSize()) {
                throw new IllegalArgumentException(name + " has " + device.size() + " bytes; members need "
                        + parts.geometry().memberSize());
            }
            return MemberIo.of(new Member(name, device), parts.geometry(), group, parts.options().requestTimeout(),
                    parts.integrity());
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** The returning member's superblock, provided no other server holds its lease. */
    private CompletableFuture<Superblock> identify(MemberIo io) {
        return MetadataIo.read(io.metadata()).thenCompose(sb -> Leases.checkFree(io).thenApply(free -> {
            if (sb.array().equals(membership.arrayId) && sb.events() > membership.events()) {
                // It saw events this array never did: it was assembled elsewhere meanwhile and may
                // hold writes this array lacks. Resyncing it would silently drop them.
                throw new java.util.concurrent.CompletionException(new InvalidMetadataException(io.name()
                        + " records event " + sb.events() + ", newer than this array's " + membership.events()
                        + ": it served elsewhere meanwhile (split brain); stop this array and assemble all members"
                        + " to choose a side"));
            }
            return sb;
        }));
    }

    private CompletableFuture<Boolean> takeBack(MemberSlot s) {
        MemberIo old = s.io;
        if (!s.claim()) {
            return CompletableFuture.failedFuture(new IllegalStateException(old.name() + " is already being resynchronised"));
        }
        return reopen(old.name(), old.raw()).thenComposeAsync(device -> {
            MemberIo fresh = device == old.raw() ? old : wrap(old.name(), device, s.group);
            return identify(fresh).handleAsync((sb, error) -> {
                if (error == null && (!sb.array().equals(membership.arrayId) || !sb.member().equals(s.memberId))) {
                    error = new InvalidMetadataException(old.name() + " is no longer this array's member " + s.memberId);
                }
                if (error != null) {
                    if (fresh != old) {
                        fresh.close();
                    }
                    throw new CompletionException(BlockDeviceException.unwrap(error));
                }
                try {
                    return install(s, fresh, sb);
                } catch (RuntimeException e) {
                    if (fresh != old) {
                        fresh.close();
                    }
                    throw e;
                }
            }, parts.control());
        }, parts.control()).whenCompleteAsync((ok, error) -> {
            if (error != null) {
                s.release();
            }
        }, parts.control());
    }

    /** A member that was unreachable at assembly answers: its place comes from its metadata. */
    private CompletableFuture<Boolean> joinUnreachable(String name) {
        return reopen(name, null).thenComposeAsync(device -> {
            // Its group is known once its superblock is read: the data view is made again for it below.
            MemberIo io = wrap(name, device, 0);
            return identify(io).handleAsync((sb, error) -> {
                MemberSlot s = null;
                if (error == null && !sb.array().equals(membership.arrayId)) {
                    error = new InvalidMetadataException(name + " belongs to another array");
                } else if (error == null) {
                    s = membership.slot(sb.slot());
                    if (!s.memberId.equals(sb.member()) || s.io != null) {
                        error = new InvalidMetadataException(name + " is no longer a member of this array");
                    } else if (!s.claim()) {
                        error = new IllegalStateException("the place of " + name + " is being rebuilt");
                    }
                }
                if (error != null) {
                    io.close();
                    throw new CompletionException(BlockDeviceException.unwrap(error));
                }
                unreachable.remove(name);
                LOG.info(name + " is reachable again");
                try {
                    return install(s, MemberIo.of(new Member(name, io.raw()), parts.geometry(), s.group,
                            parts.options().requestTimeout(), parts.integrity()), sb);
                } catch (RuntimeException e) {
                    s.release();
                    io.close();
                    throw e;
                }
            }, parts.control());
        }, parts.control());
    }

    private boolean install(MemberSlot s, MemberIo io, Superblock sb) {
        CopySet copies = membership.copiesOf(s);
        if (copies.readable().isEmpty()) {
            return installAsLastCopy(s, io, copies);
        }
        WriteIntentBitmap bits = parts.bitmaps()[s.group];
        boolean onlyDirty = s.role != MemberRole.State.REBUILDING && sb.events() >= bits.clearedAtEvents();
        MemberIo previous = s.io;
        if (previous != io) {
            membership.copiesOf(s).replace(s.copy, io.data());
            s.io = io;
            if (previous != null) {
                previous.close();
            }
        }
        LOG.info("re-adding " + io.name() + (onlyDirty ? ": resynchronising " + bits.dirtyRegions()
                + " region(s) marked in the write-intent bitmap" : ": it missed too much, resynchronising in full"));
        if (!onlyDirty && s.role != MemberRole.State.REBUILDING) {
            membership.setRole(s, MemberRole.State.REBUILDING);
        }
        startResync(s, onlyDirty, parts.options().resyncBytesPerSecond());
        return onlyDirty;
    }

    /**
     * Every copy of the group has failed (all replicas lost, a full disk everywhere): there is no
     * source to resync from. The copy that failed last held every acknowledged write, so it comes
     * back as the group's source at once — without a restart — and the others resync from it as
     * they return; any other copy must wait for that one.
     */
    private boolean installAsLastCopy(MemberSlot s, MemberIo io, CopySet copies) {
        if (s.role == MemberRole.State.REBUILDING || copies.lastToFail() != s.copy) {
            throw new IllegalStateException("no copy of group " + s.group + " is in service to resynchronise " + io.name()
                    + " from; waiting for the copy that failed last");
        }
        MemberIo previous = s.io;
        if (previous != io) {
            copies.replace(s.copy, io.data());
            s.io = io;
            if (previous != null) {
                previous.close();
            }
        }
        TaggedDevice tagged = io.data().tagged();
        if (tagged != null) {
            tagged.trust(parts.bitmaps()[s.group].dirtyRanges(copies.size()));
        }
        copies.restore(s.copy);
        s.release();
        s.probeFailures = 0;
        membership.setRole(s, MemberRole.State.ACTIVE);
        LOG.warning(io.name() + " failed last of group " + s.group + " and is back: it serves the group again, and the"
                + " other copies will be resynchronised from it");
        return true;
    }
}
