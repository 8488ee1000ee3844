package io.nbdvault.replication;

import io.nbdvault.core.Futures;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Who is in the array: the slots, the event counter, and the superblocks that record them on every
 * member in service. A role change bumps the event counter and is written to each member in
 * service, so assembly later trusts the newest view; each member's superblock writes are chained,
 * so an older view never lands after a newer one. A member that cannot take its superblock is
 * failed (its copy set reports it, and the failure comes back here as a role change).
 *
 * <p>Threads: every method that changes state runs on the array's control thread; the event
 * counter and slot fields may be read from anywhere.
 */
final class Membership {
    private static final Logger LOG = Logger.getLogger(Membership.class.getName());

    final UUID arrayId;
    final ArrayGeometry geometry;
    private final MemberSlot[] slots;
    private final CopySet[] groups;
    private final AtomicLong events;

    Membership(UUID arrayId, ArrayGeometry geometry, MemberSlot[] slots, CopySet[] groups, long events) {
        this.arrayId = arrayId;
        this.geometry = geometry;
        this.slots = slots;
        this.groups = groups;
        this.events = new AtomicLong(events);
    }

    long events() {
        return events.get();
    }

    MemberSlot slot(int index) {
        return slots[index];
    }

    int size() {
        return slots.length;
    }

    CopySet copiesOf(MemberSlot s) {
        return groups[s.group];
    }

    /** The slot of the member named {@code name} (its URI or path as given, or its id). */
    MemberSlot slotOf(String name) {
        for (MemberSlot s : slots) {
            MemberIo io = s.io;
            if ((io != null && io.name().equals(name)) || s.memberId.toString().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("no member named '" + name + "' in this array");
    }

    List<MemberRole> roles() {
        List<MemberRole> roles = new ArrayList<>();
        for (MemberSlot s : slots) {
            roles.add(new MemberRole(s.memberId, s.role));
        }
        return roles;
    }

    Superblock superblockFor(MemberSlot s, long atEvents, boolean clean) {
        return new Superblock(arrayId, s.memberId, s.group, s.copy, geometry, atEvents, clean, roles());
    }

    /** Records a new role for a slot on every member in service. */
    CompletableFuture<Void> setRole(MemberSlot s, MemberRole.State role) {
        s.role = role;
        return writeMetadata(false);
    }

    /** A copy failed: recorded in the survivors' metadata, unless it was not counted as active anyway. */
    void recordFailure(int index) {
        MemberSlot s = slots[index];
        s.failedAtNanos = System.nanoTime();
        if (s.io != null && s.role == MemberRole.State.ACTIVE) {
            setRole(s, MemberRole.State.FAILED);
        }
    }

    /** Bumps the event counter and writes the role table to every member in service and up to date. */
    CompletableFuture<Void> writeMetadata(boolean clean) {
        long e = events.incrementAndGet();
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (MemberSlot s : slots) {
            CopySet copies = groups[s.group];
            MemberIo io = s.io;
            if (io == null || !copies.isLive(s.copy) || copies.isSyncing(s.copy)) {
                continue;
            }
            Superblock sb = superblockFor(s, e, clean);
            CompletableFuture<Void> w = s.lastMetadataWrite.handle((x, error) -> null)
                    .thenCompose(x -> MetadataIo.write(io.metadata(), sb))
                    .exceptionally(error -> {
                        LOG.warning("metadata write to " + io.name() + " failed: " + error.getMessage());
                        copies.fail(s.copy, error);
                        return null;
                    });
            s.lastMetadataWrite = w;
            writes.add(w);
        }
        return Futures.all(writes);
    }

    /** Records every slot's address on every member in service (see {@link AddressBook}). */
    CompletableFuture<Void> writeAddresses() {
        List<String> names = new ArrayList<>();
        for (MemberSlot s : slots) {
            MemberIo io = s.io;
            names.add(io != null ? io.name() : s.address);
        }
        AddressBook book = new AddressBook(names);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (MemberSlot s : slots) {
            MemberIo io = s.io;
            if (io != null && groups[s.group].isLive(s.copy)) {
                writes.add(MetadataIo.writeAddresses(io.metadata(), book).exceptionally(e -> {
                    LOG.warning("address book write to " + io.name() + " failed: " + e.getMessage());
                    return null;
                }));
            }
        }
        return Futures.all(writes);
    }

    /** Completes when every superblock write sent so far has finished (failed ones included). */
    CompletableFuture<Void> metadataWritesDone() {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (MemberSlot s : slots) {
            all.add(s.lastMetadataWrite.handle((x, e) -> null));
        }
        return Futures.all(all);
    }
}
