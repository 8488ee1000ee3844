package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Requests;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * The replicated volume: G mirror groups of N copies, striped, with each member's metadata at its
 * end. Assembly trusts the newest event counter; a member that failed is recorded as such in the
 * survivors' metadata (with a higher event counter) and stays out until resynchronised; after an
 * unclean shutdown every group is resynchronised from one copy, because in-flight writes may have
 * reached some copies and not others.
 */
public final class ReplicatedArray implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReplicatedArray.class.getName());

    private final UUID arrayId;
    private final ArrayGeometry geometry;
    private final Member[] members;
    private final UUID[] memberIds;
    private final MirroredDevice[] mirrors;
    private final StripedDevice volume;
    private final ArrayOptions options;
    private final AtomicLong events;
    private final MemberRole.State[] states;
    private final AtomicLong[] synced;
    private final Object metadataLock = new Object();
    private CompletableFuture<Void> metadataWrites = Requests.done();
    private final List<CompletableFuture<Long>> resyncs = new ArrayList<>();

    private ReplicatedArray(UUID arrayId, ArrayGeometry geometry, Member[] members, UUID[] memberIds,
                            MemberRole.State[] states, long events, ArrayOptions options) {
        this.arrayId = arrayId;
        this.geometry = geometry;
        this.members = members;
        this.memberIds = memberIds;
        this.states = states;
        this.events = new AtomicLong(events);
        this.options = options;
        this.synced = new AtomicLong[members.length];
        this.mirrors = new MirroredDevice[geometry.groups()];
        List<BlockDevice> groups = new ArrayList<>();
        for (int g = 0; g < geometry.groups(); g++) {
            List<BlockDevice> copies = new ArrayList<>();
            for (int c = 0; c < geometry.copies(); c++) {
                int slot = g * geometry.copies() + c;
                synced[slot] = new AtomicLong();
                copies.add(members[slot] == null ? new AbsentDevice(geometry.memberDataSize()) : members[slot].device());
            }
            int group = g;
            mirrors[g] = new MirroredDevice(copies, geometry.memberDataSize(), options.requestTimeout(),
                    (copy, cause) -> memberFailed(group * geometry.copies() + copy, cause));
            groups.add(mirrors[g]);
        }
        this.volume = new StripedDevice(groups, geometry.chunkSize());
        for (int slot = 0; slot < members.length; slot++) {
            if (states[slot] != MemberRole.State.ACTIVE || members[slot] == null) {
                mirrors[slot / geometry.copies()].fail(slot % geometry.copies(), new IOException("member is not in sync"));
            }
        }
    }

    /** Writes fresh metadata to every member and returns the array, clean and in sync. */
    public static ReplicatedArray create(List<Member> members, ArrayGeometry geometry, ArrayOptions options)
            throws IOException {
        if (members.size() != geometry.groups() * geometry.copies()) {
            throw new IllegalArgumentException(geometry.groups() + " groups of " + geometry.copies() + " copies need "
                    + geometry.groups() * geometry.copies() + " members, got " + members.size());
        }
        UUID array = UUID.randomUUID();
        UUID[] ids = new UUID[members.size()];
        List<MemberRole> roles = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            Member m = members.get(i);
            if (m.device().size() < geometry.memberSize()) {
                throw new IOException("member " + m.name() + " has " + m.device().size() + " bytes; the array needs "
                        + geometry.memberSize() + " on each member");
            }
            ids[i] = UUID.randomUUID();
            roles.add(new MemberRole(ids[i], MemberRole.State.ACTIVE));
        }
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            Superblock sb = new Superblock(array, ids[i], i / geometry.copies(), i % geometry.copies(), geometry, 1, true, roles);
            writes.add(MetadataIo.write(members.get(i).device(), sb));
        }
        join(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
        MemberRole.State[] states = new MemberRole.State[members.size()];
        java.util.Arrays.fill(states, MemberRole.State.ACTIVE);
        ReplicatedArray a = new ReplicatedArray(array, geometry, members.toArray(Member[]::new), ids, states, 1, options);
        a.markDirty();
        return a;
    }

    /**
     * Assembles from whatever members are given, in any order: positions come from their metadata.
     * Members missing or stale are kept out (and resynchronised when stale); an unclean shutdown
     * triggers a resync of every group. Refuses foreign members and ambiguous (split-brain) sets.
     */
    public static ReplicatedArray assemble(List<Member> given, ArrayOptions options) throws IOException {
        if (given.isEmpty()) {
            throw new IllegalArgumentException("no members given");
        }
        Map<Member, Superblock> found = new HashMap<>();
        for (Member m : given) {
            try {
                found.put(m, join(MetadataIo.read(m.device())));
            } catch (IOException e) {
                throw new InvalidMetadataException(m.name() + ": " + e.getMessage());
            }
        }
        Superblock newest = found.values().stream().max(java.util.Comparator.comparingLong(Superblock::events)).orElseThrow();
        for (Map.Entry<Member, Superblock> e : found.entrySet()) {
            Superblock sb = e.getValue();
            if (!sb.array().equals(newest.array())) {
                throw new InvalidMetadataException(e.getKey().name() + " belongs to another array (" + sb.array() + ", not "
                        + newest.array() + ")");
            }
            if (!sb.geometry().equals(newest.geometry())) {
                throw new InvalidMetadataException(e.getKey().name() + " records a different geometry");
            }
            if (sb.events() == newest.events() && !sb.roles().equals(newest.roles()) && !options.force()) {
                throw new InvalidMetadataException("split brain: " + e.getKey().name() + " and another member both have event "
                        + sb.events() + " but disagree on which members failed; use --force to assemble from the newest");
            }
        }
        ArrayGeometry geometry = newest.geometry();
        int n = geometry.groups() * geometry.copies();
        Member[] members = new Member[n];
        UUID[] ids = new UUID[n];
        MemberRole.State[] states = new MemberRole.State[n];
        boolean[] stale = new boolean[n];
        for (int slot = 0; slot < n; slot++) {
            ids[slot] = newest.roles().get(slot).member();
            states[slot] = newest.roles().get(slot).state();
        }
        for (Map.Entry<Member, Superblock> e : found.entrySet()) {
            Superblock sb = e.getValue();
            int slot = sb.slot();
            if (!ids[slot].equals(sb.member())) {
                throw new InvalidMetadataException(e.getKey().name() + " was replaced in this array and is no longer a member");
            }
            if (members[slot] != null) {
                throw new InvalidMetadataException(e.getKey().name() + " and " + members[slot].name() + " are the same member");
            }
            members[slot] = e.getKey();
            stale[slot] = sb.events() < newest.events();
        }
        // Members to bring up to date are recorded as failed until their resync completes, so a
        // crash in the middle never leaves a half-copied member looking current.
        List<Integer> targets = new ArrayList<>();
        for (int slot = 0; slot < n; slot++) {
            if (members[slot] == null) {
                LOG.warning("member " + slot + " (" + ids[slot] + ") is missing; running degraded");
            } else if (states[slot] == MemberRole.State.FAILED || stale[slot]) {
                LOG.warning(members[slot].name() + " is out of date; it will be resynchronised");
                targets.add(slot);
            }
        }
        if (!newest.clean()) {
            LOG.warning("the array was not shut down cleanly; resynchronising each group from one copy");
            for (int g = 0; g < geometry.groups(); g++) {
                boolean sourceChosen = false;
                for (int c = 0; c < geometry.copies(); c++) {
                    int slot = g * geometry.copies() + c;
                    if (members[slot] == null || targets.contains(slot)) {
                        continue;
                    }
                    if (sourceChosen) {
                        targets.add(slot);
                    }
                    sourceChosen = true;
                }
            }
        }
        for (int slot : targets) {
            states[slot] = MemberRole.State.FAILED;
        }
        ReplicatedArray a = new ReplicatedArray(newest.array(), geometry, members, ids, states, newest.events(), options);
        a.markDirty();
        for (int slot : targets) {
            a.startResync(slot);
        }
        return a;
    }

    public BlockDevice volume() {
        return volume;
    }

    public UUID id() {
        return arrayId;
    }

    public ArrayGeometry geometry() {
        return geometry;
    }

    /** Completes when every resync started so far has finished. */
    public CompletableFuture<Void> resyncsDone() {
        synchronized (resyncs) {
            return CompletableFuture.allOf(resyncs.toArray(CompletableFuture[]::new));
        }
    }

    private void startResync(int slot) {
        MirroredDevice mirror = mirrors[slot / geometry.copies()];
        int copy = slot % geometry.copies();
        CompletableFuture<Long> r = mirror.resync(copy, options.resyncBytesPerSecond(),
                (done, total) -> synced[slot].set(done)).whenComplete((bytes, error) -> {
                    if (error == null) {
                        LOG.info(members[slot].name() + " is in sync (" + bytes + " bytes copied)");
                        setState(slot, MemberRole.State.ACTIVE);
                    } else {
                        LOG.warning("resync of " + members[slot].name() + " failed: " + error.getMessage());
                    }
                });
        synchronized (resyncs) {
            resyncs.add(r);
        }
    }

    private void memberFailed(int slot, Throwable cause) {
        if (members[slot] != null && states[slot] == MemberRole.State.ACTIVE) {
            setState(slot, MemberRole.State.FAILED);
        }
    }

    /** Compares the copies of every group; with {@code repair} makes them agree with the first copy. */
    public CompletableFuture<Long> scrub(boolean repair) {
        CompletableFuture<Long> total = CompletableFuture.completedFuture(0L);
        for (MirroredDevice m : mirrors) {
            total = total.thenCompose(sum -> m.scrub(repair, ProgressListener.NONE).thenApply(found -> sum + found));
        }
        return total;
    }

    /** Takes the member named {@code name} (as given at assembly) out of service. */
    public void fail(String name) {
        for (int slot = 0; slot < members.length; slot++) {
            if (members[slot] != null && members[slot].name().equals(name)) {
                fail(slot);
                return;
            }
        }
        throw new IllegalArgumentException("no member named '" + name + "' in this array");
    }

    /** Takes a member out of service, as `nbdvault fail` does. */
    public void fail(int slot) {
        mirrors[slot / geometry.copies()].fail(slot % geometry.copies(), new IOException("failed by the administrator"));
    }

    private void setState(int slot, MemberRole.State state) {
        states[slot] = state;
        writeMetadata(false);
    }

    private void markDirty() throws IOException {
        join(writeMetadata(false));
    }

    /** Bumps the event counter and records the role table on every member in service. */
    private CompletableFuture<Void> writeMetadata(boolean clean) {
        synchronized (metadataLock) {
            long e = events.incrementAndGet();
            List<MemberRole> roles = new ArrayList<>();
            for (int i = 0; i < members.length; i++) {
                roles.add(new MemberRole(memberIds[i], states[i]));
            }
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int slot = 0; slot < members.length; slot++) {
                MirroredDevice mirror = mirrors[slot / geometry.copies()];
                int copy = slot % geometry.copies();
                if (members[slot] == null || !mirror.isLive(copy) || mirror.isSyncing(copy)) {
                    continue;
                }
                Superblock sb = new Superblock(arrayId, memberIds[slot], slot / geometry.copies(), copy, geometry, e,
                        clean, roles);
                int s = slot;
                writes.add(MetadataIo.write(members[slot].device(), sb).exceptionally(error -> {
                    mirror.fail(copy, error);
                    LOG.warning("metadata write to " + members[s].name() + " failed: " + error.getMessage());
                    return null;
                }));
            }
            CompletableFuture<Void> all = CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new));
            metadataWrites = metadataWrites.thenCompose(x -> all);
            return all;
        }
    }

    public ArrayStatus status() {
        List<ArrayStatus.MemberStatus> list = new ArrayList<>();
        int live = 0;
        boolean lost = false;
        for (int g = 0; g < geometry.groups(); g++) {
            int groupLive = 0;
            for (int c = 0; c < geometry.copies(); c++) {
                int slot = g * geometry.copies() + c;
                String state = members[slot] == null ? "missing" : !mirrors[g].isLive(c) ? "failed"
                        : mirrors[g].isSyncing(c) ? "syncing" : "active";
                if (state.equals("active")) {
                    groupLive++;
                    live++;
                }
                long[] lat = mirrors[g].latencyMicros(c);
                list.add(new ArrayStatus.MemberStatus(members[slot] == null ? memberIds[slot].toString() : members[slot].name(),
                        g, c, state, synced[slot].get(), lat[0], lat[1], lat[2], lat[3]));
            }
            lost |= groupLive == 0;
        }
        ArrayStatus.State state = lost ? ArrayStatus.State.FAILED
                : live == members.length ? ArrayStatus.State.ACTIVE : ArrayStatus.State.DEGRADED;
        return new ArrayStatus(arrayId, geometry, events.get(), state, list);
    }

    /** Flushes, records a clean shutdown on every member in service, and closes the members. */
    @Override
    public void close() {
        try {
            join(volume.flush());
            join(resyncsDone().exceptionally(e -> null));
            synchronized (metadataLock) {
                join(metadataWrites.exceptionally(e -> null));
            }
            join(writeMetadata(true));
        } catch (IOException e) {
            LOG.warning("clean shutdown could not be recorded: " + e.getMessage());
        }
        volume.close();
    }

    static <T> T join(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable cause = io.nbdvault.core.BlockDeviceException.unwrap(e);
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause.getMessage(), cause);
        }
    }

    /** Options: request timeout per member request, resync rate, and whether to force an ambiguous assembly. */
    public record ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force) {
        public static ArrayOptions defaults() {
            return new ArrayOptions(Duration.ofSeconds(10), 0, false);
        }
    }
}
