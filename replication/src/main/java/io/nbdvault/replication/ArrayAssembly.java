package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * What assembly decides from the members' metadata, before anything runs: the newest view wins;
 * foreign, replaced and duplicate members and an ambiguous (split-brain) set are refused; members
 * missing or stale are kept out, stale ones to be resynchronised — from the write-intent bitmap
 * when it covers their absence — and after an unclean shutdown the marked regions of every group.
 *
 * @param resyncs slot → whether its resync copies only the bitmap's regions
 * @param leftOut members that could not answer now: probed, and joined when they do
 * @param ignored members given that were replaced: closed and forgotten
 */
record ArrayAssembly(Superblock newest, Member[] members, UUID[] ids, MemberRole.State[] states, MergedBitmaps bitmaps,
                     Map<Integer, Boolean> resyncs, List<Member> leftOut, List<Member> ignored) {
    private static final Logger LOG = Logger.getLogger(ReplicatedArray.class.getName());

    static ArrayAssembly plan(List<Member> given, ArrayOptions options) throws IOException {
        if (given.isEmpty()) {
            throw new IllegalArgumentException("no members given");
        }
        Map<Member, Superblock> found = new HashMap<>();
        // A member that answers the handshake but not its metadata (hangs, errors, absurd size) is
        // left out like an unreachable one, and probed later; foreign and blank ones are refused.
        List<Member> leftOut = new java.util.ArrayList<>();
        List<Member> ignored = new java.util.ArrayList<>();
        Map<Member, InvalidMetadataException> invalid = new java.util.LinkedHashMap<>();
        for (Member m : given) {
            if (m.device().size() < ArrayGeometry.METADATA_SIZE) {
                LOG.warning(m.name() + " reports " + m.device().size() + " bytes, too few for a member; leaving it out");
                leftOut.add(m);
                continue;
            }
            try {
                found.put(m, ReplicatedArray.join(MetadataIo.read(
                        new io.nbdvault.core.DeadlineDevice(m.device(), options.requestTimeout(), m.name()))));
            } catch (InvalidMetadataException e) {
                invalid.put(m, e);
            } catch (IOException e) {
                LOG.warning("cannot read the metadata of " + m.name() + " (" + e.getMessage() + "); leaving it out");
                leftOut.add(m);
            }
        }
        if (found.isEmpty() && !invalid.isEmpty()) {
            Map.Entry<Member, InvalidMetadataException> first = invalid.entrySet().iterator().next();
            throw new InvalidMetadataException(first.getKey().name() + ": " + first.getValue().getMessage());
        }
        if (found.isEmpty()) {
            throw new IOException("no member's metadata could be read");
        }
        Superblock newest = found.values().stream().max(java.util.Comparator.comparingLong(Superblock::events)).orElseThrow();
        // Where a grown member's metadata may be: at the array's member size (what create makes files),
        // or at the size of one of its siblings (LUNs made alike).
        java.util.TreeSet<Long> sizes = new java.util.TreeSet<>();
        sizes.add(newest.geometry().memberSize());
        found.keySet().forEach(m -> sizes.add(m.device().size()));
        for (Map.Entry<Member, InvalidMetadataException> e : invalid.entrySet()) {
            Member grown = grown(e.getKey(), newest, sizes, options);
            if (grown == null) {
                throw new InvalidMetadataException(e.getKey().name() + ": " + e.getValue().getMessage()
                        + (!sizes.contains(e.getKey().device().size()) ? " (it has " + e.getKey().device().size()
                        + " bytes where this array's members have " + sizes.first() + ")" : ""));
            }
            found.put(grown, ReplicatedArray.join(MetadataIo.read(grown.device())));
        }
        if (!invalid.isEmpty()) {
            newest = found.values().stream().max(java.util.Comparator.comparingLong(Superblock::events)).orElseThrow();
        }
        for (Map.Entry<Member, Superblock> e : found.entrySet()) {
            Superblock sb = e.getValue();
            if (!sb.array().equals(newest.array())) {
                throw new InvalidMetadataException(e.getKey().name() + " belongs to another array (" + sb.array() + ", not "
                        + newest.array() + ")");
            }
            // An `upgrade --integrity` that stopped part-way leaves older members without tags: they
            // are stale members of the upgraded array (resynchronised, tags and all), nothing else.
            boolean leftBehindByUpgrade = sb.events() < newest.events() && !sb.geometry().integrity()
                    && sb.geometry().withIntegrity(newest.geometry().integrityBlock()).equals(newest.geometry());
            if (!sb.geometry().equals(newest.geometry()) && !leftBehindByUpgrade) {
                throw new InvalidMetadataException(e.getKey().name() + " records a different geometry");
            }
            if (sb.events() == newest.events() && !sb.roles().equals(newest.roles()) && !options.force()) {
                throw new InvalidMetadataException("split brain: " + e.getKey().name() + " and another member both have event "
                        + sb.events() + " but disagree on which members failed; use --force to assemble from the newest");
            }
        }
        SplitBrain.refuse(found, options.force());
        Leases.refuseHeld(found, options.requestTimeout(), options.force());
        ArrayGeometry geometry = newest.geometry();
        int n = geometry.groups() * geometry.copies();
        Member[] members = new Member[n];
        Superblock[] blocks = new Superblock[n];
        UUID[] ids = new UUID[n];
        MemberRole.State[] states = new MemberRole.State[n];
        for (int slot = 0; slot < n; slot++) {
            ids[slot] = newest.roles().get(slot).member();
            states[slot] = newest.roles().get(slot).state();
        }
        for (Map.Entry<Member, Superblock> e : found.entrySet()) {
            Superblock sb = e.getValue();
            int slot = sb.slot();
            if (!ids[slot].equals(sb.member())) {
                // An old member still listed (in a unit file, say) after a replace: not an error.
                LOG.warning(e.getKey().name() + " was replaced in this array and is no longer a member; ignoring it");
                ignored.add(e.getKey());
                continue;
            }
            if (members[slot] != null) {
                throw new InvalidMetadataException(e.getKey().name() + " and " + members[slot].name() + " are the same member");
            }
            members[slot] = e.getKey();
            blocks[slot] = sb;
        }
        boolean[] current = new boolean[n];
        for (int slot = 0; slot < n; slot++) {
            current[slot] = members[slot] != null && states[slot] == MemberRole.State.ACTIVE
                    && blocks[slot].events() == newest.events();
        }
        MergedBitmaps loaded = MergedBitmaps.read(geometry, members, current, newest.events(), options.requestTimeout());

        // Members to bring up to date are recorded as failed (or rebuilding) until their resync
        // completes, so a crash in the middle never leaves a half-copied member looking current.
        Map<Integer, Boolean> targets = new java.util.LinkedHashMap<>();
        for (int slot = 0; slot < n; slot++) {
            if (members[slot] == null) {
                LOG.warning("member " + slot + " (" + ids[slot] + ") is missing; running degraded");
                // Recorded, so that this side and the missing one can later tell that they ran apart.
                if (states[slot] == MemberRole.State.ACTIVE) {
                    states[slot] = MemberRole.State.FAILED;
                }
            } else if (!current[slot]) {
                boolean onlyDirty = loaded.valid() && states[slot] != MemberRole.State.REBUILDING
                        && blocks[slot].events() >= loaded.header().clearedAtEvents();
                LOG.warning(members[slot].name() + " is out of date; it will be resynchronised"
                        + (onlyDirty ? " from the write-intent bitmap" : " in full"));
                targets.put(slot, onlyDirty);
            }
        }
        if (!newest.clean()) {
            LOG.warning("the array was not shut down cleanly; resynchronising "
                    + (loaded.valid() ? "the regions marked in the write-intent bitmap" : "each group") + " from one copy");
            for (int g = 0; g < geometry.groups(); g++) {
                boolean sourceChosen = false;
                for (int c = 0; c < geometry.copies(); c++) {
                    int slot = g * geometry.copies() + c;
                    if (!current[slot]) {
                        continue;
                    }
                    if (sourceChosen) {
                        targets.put(slot, loaded.valid());
                    }
                    sourceChosen = true;
                }
            }
        }
        targets.forEach((slot, onlyDirty) -> states[slot] = onlyDirty ? MemberRole.State.FAILED : MemberRole.State.REBUILDING);
        return new ArrayAssembly(newest, members, ids, states, loaded, targets, leftOut, ignored);
    }

    /**
     * A member extended after create (a file made longer, a LUN grown) keeps its metadata where its
     * old end was, no longer at its end: found at one of the {@code sizes} it may have had, the member
     * is used as its first that many bytes, and the log says so. Null when no superblock of this array
     * is at any of them.
     */
    private static Member grown(Member m, Superblock newest, java.util.SortedSet<Long> sizes, ArrayOptions options) {
        for (long size : sizes) {
            if (size >= m.device().size() || size < newest.geometry().memberSize()) {
                continue;
            }
            BlockDevice first = new BoundedDevice(m.device(), size);
            try {
                Superblock sb = ReplicatedArray.join(MetadataIo.read(
                        new io.nbdvault.core.DeadlineDevice(first, options.requestTimeout(), m.name())));
                if (!sb.array().equals(newest.array())) {
                    continue;
                }
            } catch (IOException e) {
                continue;
            }
            LOG.warning(m.name() + " grew from " + size + " to " + m.device().size() + " bytes; the array uses the first "
                    + size + " bytes");
            return new Member(m.name(), first);
        }
        return null;
    }
}
