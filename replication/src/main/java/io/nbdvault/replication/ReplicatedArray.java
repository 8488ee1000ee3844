package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Requests;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.logging.Logger;

/**
 * The replicated volume: G mirror groups of N copies, striped, with each member's metadata at its
 * end. Assembly trusts the newest event counter; a member that failed is recorded as such in the
 * survivors' metadata (with a higher event counter) and stays out until resynchronised. Each
 * group keeps a write-intent bitmap, so a returning member and a crash both cost a resync of the
 * regions written meanwhile, not of the whole member. While running, failed members are probed
 * and taken back when they answer again (unless an administrator failed them).
 */
public final class ReplicatedArray implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReplicatedArray.class.getName());
    private static final long MAX_PROBE_BACKOFF_MILLIS = 60_000;

    private final UUID arrayId;
    private final ArrayGeometry geometry;
    private final AtomicReferenceArray<Member> members;
    private final UUID[] memberIds;
    private final MirroredDevice[] mirrors;
    private final WriteIntentBitmap[] bitmaps;
    private final GroupBitmapStore[] bitmapStores;
    private final StripedDevice volume;
    private final ArrayOptions options;
    private final AtomicLong events;
    private final MemberRole.State[] states;
    private final AtomicLong[] synced;
    private final AtomicLong[] syncTotal;
    private final boolean[] adminFailed;
    private final boolean[] resyncing;
    private final int[] probeFailures;
    private final long[] nextProbeNanos;
    /** Members named at assembly that could not be reached: probed, and joined when they answer. */
    private final List<String> unreachable = new CopyOnWriteArrayList<>();
    private final Object metadataLock = new Object();
    private CompletableFuture<Void> metadataWrites = Requests.done();
    private final List<CompletableFuture<Long>> resyncs = new ArrayList<>();
    private final ScheduledExecutorService maintenance;
    private volatile boolean closed;

    private ReplicatedArray(UUID arrayId, ArrayGeometry geometry, Member[] given, UUID[] memberIds,
                            MemberRole.State[] states, long events, ArrayOptions options, BitmapHeader bitmapHeader,
                            BitSet[] dirty) {
        this.arrayId = arrayId;
        this.geometry = geometry;
        this.members = new AtomicReferenceArray<>(given);
        this.memberIds = memberIds;
        this.states = states;
        this.events = new AtomicLong(events);
        this.options = options;
        int n = given.length;
        this.synced = new AtomicLong[n];
        this.syncTotal = new AtomicLong[n];
        this.adminFailed = new boolean[n];
        this.resyncing = new boolean[n];
        this.probeFailures = new int[n];
        this.nextProbeNanos = new long[n];
        this.mirrors = new MirroredDevice[geometry.groups()];
        this.bitmaps = new WriteIntentBitmap[geometry.groups()];
        this.bitmapStores = new GroupBitmapStore[geometry.groups()];
        List<BlockDevice> groups = new ArrayList<>();
        for (int g = 0; g < geometry.groups(); g++) {
            List<BlockDevice> copies = new ArrayList<>();
            for (int c = 0; c < geometry.copies(); c++) {
                int slot = g * geometry.copies() + c;
                synced[slot] = new AtomicLong();
                syncTotal[slot] = new AtomicLong();
                copies.add(given[slot] == null ? new AbsentDevice(geometry.memberDataSize()) : given[slot].device());
            }
            int group = g;
            mirrors[g] = new MirroredDevice(copies, geometry.memberDataSize(), options.requestTimeout(),
                    (copy, cause) -> memberFailed(group * geometry.copies() + copy, cause));
            bitmapStores[g] = new GroupBitmapStore(new GroupCopies(g), options.requestTimeout());
            bitmaps[g] = new WriteIntentBitmap(bitmapHeader.regionSize(), geometry.memberDataSize(),
                    bitmapHeader.clearedAtEvents(), bitmapStores[g]);
            bitmaps[g].load(dirty[g]);
            mirrors[g].useBitmap(bitmaps[g]);
            groups.add(mirrors[g]);
        }
        this.volume = new StripedDevice(groups, geometry.chunkSize());
        for (int slot = 0; slot < n; slot++) {
            if (states[slot] != MemberRole.State.ACTIVE || given[slot] == null) {
                mirrors[slot / geometry.copies()].fail(slot % geometry.copies(), new IOException("member is not in sync"));
            }
        }
        this.maintenance = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nbdvault-array-maintenance");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the periodic work once assembly is complete, so the probe never races the resyncs assembly starts. */
    private ReplicatedArray startMaintenance() {
        long period = Math.max(10, Math.min(options.bitmapIdle().toMillis(), options.probeInterval().toMillis()));
        maintenance.scheduleWithFixedDelay(this::maintain, period, period, TimeUnit.MILLISECONDS);
        return this;
    }

    /** The copies of one group as its bitmap store sees them. */
    private final class GroupCopies implements GroupBitmapStore.Copies {
        private final int group;

        GroupCopies(int group) {
            this.group = group;
        }

        @Override
        public List<Integer> inService() {
            List<Integer> out = new ArrayList<>();
            for (int c = 0; c < geometry.copies(); c++) {
                if (members.get(group * geometry.copies() + c) != null && mirrors[group].isLive(c)) {
                    out.add(c);
                }
            }
            return out;
        }

        @Override
        public BlockDevice raw(int copy) {
            return members.get(group * geometry.copies() + copy).device();
        }

        @Override
        public void fail(int copy, Throwable cause) {
            mirrors[group].fail(copy, cause);
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
        BitmapHeader header = BitmapHeader.forData(geometry.memberDataSize(), options.bitmapRegionSize(), 1);
        byte[] emptyPage = new byte[BitmapHeader.PAGE_SIZE];
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            BlockDevice d = members.get(i).device();
            Superblock sb = new Superblock(array, ids[i], i / geometry.copies(), i % geometry.copies(), geometry, 1, true, roles);
            CompletableFuture<Void> w = MetadataIo.write(d, sb).thenCompose(x -> MetadataIo.writeBitmapHeader(d, header));
            for (int p = 0; p < BitmapHeader.pagesFor(header.regions()); p++) {
                int page = p;
                w = w.thenCompose(x -> MetadataIo.writeBitmapPage(d, page, emptyPage));
            }
            writes.add(w);
        }
        join(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
        MemberRole.State[] states = new MemberRole.State[members.size()];
        java.util.Arrays.fill(states, MemberRole.State.ACTIVE);
        BitSet[] clean = new BitSet[geometry.groups()];
        java.util.Arrays.setAll(clean, g -> new BitSet());
        ReplicatedArray a = new ReplicatedArray(array, geometry, members.toArray(Member[]::new), ids, states, 1, options,
                header, clean);
        a.markDirty();
        return a.startMaintenance();
    }

    public static ReplicatedArray assemble(List<Member> given, ArrayOptions options) throws IOException {
        return assemble(given, List.of(), options);
    }

    /**
     * Assembles from whatever members are given, in any order: positions come from their metadata.
     * Members missing or stale are kept out (and resynchronised when stale, from the bitmap when it
     * covers their absence); after an unclean shutdown the regions marked in the bitmap are
     * resynchronised in every group. Refuses foreign members and ambiguous (split-brain) sets.
     * {@code unreachable} names members that could not be opened now: they are probed and join later.
     */
    public static ReplicatedArray assemble(List<Member> given, List<String> unreachable, ArrayOptions options)
            throws IOException {
        ArrayAssembly plan = ArrayAssembly.plan(given, options);
        ReplicatedArray a = new ReplicatedArray(plan.newest().array(), plan.newest().geometry(), plan.members(), plan.ids(),
                plan.states(), plan.newest().events(), options, plan.bitmaps().header(), plan.bitmaps().dirty());
        a.unreachable.addAll(unreachable);
        a.markDirty();
        if (!plan.bitmaps().valid()) {
            a.persistBitmaps();
        }
        plan.resyncs().forEach(a::startResync);
        return a.startMaintenance();
    }

    WriteIntentBitmap bitmapForTest(int group) {
        return bitmaps[group];
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

    private CompletableFuture<Long> startResync(int slot, boolean onlyDirty) {
        return startResync(slot, onlyDirty, options.resyncBytesPerSecond());
    }

    private CompletableFuture<Long> startResync(int slot, boolean onlyDirty, long bytesPerSecond) {
        int group = slot / geometry.copies();
        MirroredDevice mirror = mirrors[group];
        int copy = slot % geometry.copies();
        synchronized (this) {
            // Usually claimed already (re-add, replace); assembly starts its resyncs directly.
            resyncing[slot] = true;
        }
        synced[slot].set(0);
        CompletableFuture<Long> r = mirror.resync(copy, onlyDirty, bytesPerSecond, (done, total) -> {
            synced[slot].set(done);
            syncTotal[slot].set(total);
        }).thenCompose(bytes -> {
            LOG.info(members.get(slot).name() + " is in sync (" + bytes + " bytes copied"
                    + (onlyDirty ? ", from the write-intent bitmap" : "") + ")");
            synchronized (this) {
                probeFailures[slot] = 0;
            }
            setState(slot, MemberRole.State.ACTIVE);
            return persistBitmap(group).handle((ok, e) -> bytes);
        }).whenComplete((bytes, error) -> {
            release(slot);
            if (error != null) {
                LOG.warning("resync of " + members.get(slot).name() + " failed: " + error.getMessage());
            }
        });
        synchronized (resyncs) {
            resyncs.add(r);
        }
        return r;
    }

    /** Writes a group's bitmap header and pages to every copy in service (after a copy joined). */
    private CompletableFuture<Void> persistBitmap(int group) {
        WriteIntentBitmap b = bitmaps[group];
        return bitmapStores[group].writeHeader(new BitmapHeader(b.regionSize(), b.regions(), b.clearedAtEvents()))
                .thenCompose(x -> b.writeAll());
    }

    private void persistBitmaps() throws IOException {
        for (int g = 0; g < geometry.groups(); g++) {
            join(persistBitmap(g));
        }
    }

    private void memberFailed(int slot, Throwable cause) {
        if (members.get(slot) != null && states[slot] == MemberRole.State.ACTIVE) {
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

    /** Takes the member named {@code name} (as given at assembly) out of service; it stays out until re-added. */
    public void fail(String name) {
        fail(slotOf(name));
    }

    /** Takes a member out of service, as `nbdvault fail` does. */
    public void fail(int slot) {
        synchronized (this) {
            adminFailed[slot] = true;
        }
        mirrors[slot / geometry.copies()].fail(slot % geometry.copies(), new IOException("failed by the administrator"));
    }

    private int slotOf(String name) {
        for (int slot = 0; slot < memberIds.length; slot++) {
            Member m = members.get(slot);
            if ((m != null && m.name().equals(name)) || memberIds[slot].toString().equals(name)) {
                return slot;
            }
        }
        throw new IllegalArgumentException("no member named '" + name + "' in this array");
    }

    /**
     * Takes a failed member back (like `mdadm --re-add`): reopens it, checks it is this member,
     * and resynchronises it — from the bitmap when that covers its absence. Completes once the
     * resync has started, with whether it copies only the bitmap's regions.
     */
    public CompletableFuture<Boolean> reAdd(String name) {
        int slot;
        try {
            slot = unreachable.contains(name) ? -1 : slotOf(name);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (slot < 0) {
            return joinUnreachable(name);
        }
        synchronized (this) {
            if (mirrors[slot / geometry.copies()].isLive(slot % geometry.copies())) {
                return CompletableFuture.failedFuture(new IllegalStateException(name + " is already in service"));
            }
            adminFailed[slot] = false;
            probeFailures[slot] = 0;
        }
        return takeBack(slot);
    }

    /**
     * Marks a slot busy for a re-add, replace or resync, so the probe, an administrator and a
     * running rebuild never work on the same slot at once; false if it already is.
     */
    private synchronized boolean claim(int slot) {
        if (resyncing[slot]) {
            return false;
        }
        resyncing[slot] = true;
        return true;
    }

    private synchronized void release(int slot) {
        resyncing[slot] = false;
    }

    /** Reopens a failed member and starts its resync. */
    private CompletableFuture<Boolean> takeBack(int slot) {
        Member old = members.get(slot);
        if (!claim(slot)) {
            return CompletableFuture.failedFuture(new IllegalStateException(old.name() + " is already being resynchronised"));
        }
        return reopen(old.name(), old.device()).thenCompose(device -> MetadataIo.read(device).handle((sb, error) -> {
            if (error == null && (!sb.array().equals(arrayId) || !sb.member().equals(memberIds[slot]))) {
                error = new InvalidMetadataException(old.name() + " is no longer this array's member " + memberIds[slot]);
            }
            if (error != null) {
                if (device != old.device()) {
                    device.close();
                }
                throw new CompletionException(io.nbdvault.core.BlockDeviceException.unwrap(error));
            }
            return install(slot, new Member(old.name(), device), sb);
        })).whenComplete((ok, error) -> {
            if (error != null) {
                release(slot);
            }
        });
    }

    /** A member that was unreachable at assembly answers: find its place from its metadata. */
    private CompletableFuture<Boolean> joinUnreachable(String name) {
        return reopen(name, null).thenCompose(device -> MetadataIo.read(device).handle((sb, error) -> {
            if (error == null && !sb.array().equals(arrayId)) {
                error = new InvalidMetadataException(name + " belongs to another array");
            }
            if (error == null && (!memberIds[sb.slot()].equals(sb.member()) || members.get(sb.slot()) != null)) {
                error = new InvalidMetadataException(name + " is no longer a member of this array");
            }
            if (error == null && !claim(sb.slot())) {
                error = new IllegalStateException("the place of " + name + " is being rebuilt");
            }
            if (error != null) {
                device.close();
                throw new CompletionException(io.nbdvault.core.BlockDeviceException.unwrap(error));
            }
            unreachable.remove(name);
            LOG.info(name + " is reachable again");
            try {
                return install(sb.slot(), new Member(name, device), sb);
            } catch (RuntimeException e) {
                release(sb.slot());
                throw e;
            }
        }));
    }

    private boolean install(int slot, Member member, Superblock sb) {
        MirroredDevice mirror = mirrors[slot / geometry.copies()];
        int copy = slot % geometry.copies();
        WriteIntentBitmap bits = bitmaps[slot / geometry.copies()];
        boolean onlyDirty;
        synchronized (this) {
            onlyDirty = states[slot] != MemberRole.State.REBUILDING && sb.events() >= bits.clearedAtEvents();
            Member previous = members.get(slot);
            if (previous == null || previous.device() != member.device()) {
                mirror.replaceCopy(copy, member.device());
            }
            members.set(slot, member);
        }
        LOG.info("re-adding " + member.name() + (onlyDirty ? ": resynchronising " + bits.dirtyRegions()
                + " region(s) marked in the write-intent bitmap" : ": it missed too much, resynchronising in full"));
        if (!onlyDirty && states[slot] != MemberRole.State.REBUILDING) {
            setState(slot, MemberRole.State.REBUILDING);
        }
        startResync(slot, onlyDirty);
        return onlyDirty;
    }

    /** A fresh device for {@code name} through the opener; without one, the device already held. */
    private CompletableFuture<BlockDevice> reopen(String name, BlockDevice current) {
        if (options.opener() == null) {
            return current != null ? CompletableFuture.completedFuture(current)
                    : CompletableFuture.failedFuture(new IOException("cannot reopen " + name + ": no way to open members"));
        }
        CompletableFuture<BlockDevice> opening = options.opener().open(name);
        CompletableFuture<BlockDevice> bounded = opening.orTimeout(options.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        bounded.whenComplete((d, e) -> {
            if (e != null) {
                // A replica that answers after we gave up must not keep a connection open.
                opening.thenAccept(BlockDevice::close);
            }
        });
        return bounded;
    }

    /**
     * Puts {@code replacement} in {@code oldName}'s place (like `mdadm --replace` without a spare):
     * the old member leaves, the new one gets fresh metadata and a full rebuild at no more than
     * {@code bytesPerSecond} (0: unlimited). Completes when the rebuild has started.
     */
    public CompletableFuture<Void> replace(String oldName, String newName, long bytesPerSecond) {
        int slot;
        try {
            slot = slotOf(oldName);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (options.opener() == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("this array cannot open new members"));
        }
        return reopen(newName, null).thenCompose(device -> MetadataIo.read(device).handle((sb, e) -> sb)
                .thenCompose(existing -> {
                    if (existing != null && existing.array().equals(arrayId)) {
                        throw new IllegalArgumentException(newName + " is already a member of this array; use re-add");
                    }
                    if (device.size() < geometry.memberSize()) {
                        throw new IllegalArgumentException(newName + " has " + device.size() + " bytes; members need "
                                + geometry.memberSize());
                    }
                    return replaceWith(slot, new Member(newName, device), bytesPerSecond);
                }).whenComplete((x, error) -> {
                    if (error != null) {
                        device.close();
                    }
                }));
    }

    /** Runs on whatever thread completed the opening (often a transport event loop): it must never block. */
    private CompletableFuture<Void> replaceWith(int slot, Member replacement, long bytesPerSecond) {
        MirroredDevice mirror = mirrors[slot / geometry.copies()];
        int copy = slot % geometry.copies();
        if (!claim(slot)) {
            throw new IllegalStateException((members.get(slot) == null ? "that member" : members.get(slot).name())
                    + " is being resynchronised; wait for it to finish");
        }
        synchronized (this) {
            adminFailed[slot] = false;
        }
        mirror.fail(copy, new IOException("replaced by the administrator"));
        String oldName = members.get(slot) == null ? memberIds[slot].toString() : members.get(slot).name();
        UUID id = UUID.randomUUID();
        Superblock first;
        synchronized (metadataLock) {
            memberIds[slot] = id;
            states[slot] = MemberRole.State.REBUILDING;
            first = new Superblock(arrayId, id, slot / geometry.copies(), copy, geometry, events.get(), false, roles());
        }
        // The newcomer carries metadata from the start: after a crash it is known, and known to need a full copy.
        return MetadataIo.write(replacement.device(), first).thenCompose(x -> {
            mirror.replaceCopy(copy, replacement.device());
            members.set(slot, replacement);
            return writeMetadata(false);
        }).thenRun(() -> {
            LOG.info("replacing " + oldName + " with " + replacement.name() + ": full rebuild"
                    + (bytesPerSecond > 0 ? " at up to " + bytesPerSecond + " bytes/s" : ""));
            startResync(slot, false, bytesPerSecond);
        }).whenComplete((ok, error) -> {
            if (error != null) {
                release(slot);
            }
        });
    }

    /** Periodic work: clear idle bitmap regions of groups in sync, and probe failed members. */
    private void maintain() {
        if (closed) {
            return;
        }
        try {
            for (int g = 0; g < geometry.groups(); g++) {
                MirroredDevice mirror = mirrors[g];
                if (mirror.fullyInSync()) {
                    bitmaps[g].clearIdle(events.get(), mirror::fullyInSync, false).get(
                            options.requestTimeout().toMillis() * 4, TimeUnit.MILLISECONDS);
                }
            }
        } catch (Exception e) {
            LOG.fine("bitmap clearing pass stopped: " + e.getMessage());
        }
        probe();
    }

    /** Failed members (not failed by an administrator) and unreachable ones are tried again, backing off. */
    private void probe() {
        long now = System.nanoTime();
        for (int slot = 0; slot < memberIds.length; slot++) {
            int s = slot;
            synchronized (this) {
                Member m = members.get(slot);
                if (m == null || adminFailed[slot] || resyncing[slot] || now < nextProbeNanos[slot]
                        || mirrors[slot / geometry.copies()].isLive(slot % geometry.copies())) {
                    continue;
                }
                long backoff = Math.min(MAX_PROBE_BACKOFF_MILLIS,
                        options.probeInterval().toMillis() << Math.min(probeFailures[slot], 16));
                nextProbeNanos[slot] = now + TimeUnit.MILLISECONDS.toNanos(backoff);
                probeFailures[slot]++;
            }
            awaitQuietly(takeBack(s));
        }
        for (String name : unreachable) {
            awaitQuietly(joinUnreachable(name));
        }
    }

    private void awaitQuietly(CompletableFuture<?> f) {
        try {
            f.get(options.requestTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.fine("probe: " + e.getMessage());
        }
    }

    private void setState(int slot, MemberRole.State state) {
        synchronized (metadataLock) {
            states[slot] = state;
        }
        writeMetadata(false);
    }

    private void markDirty() throws IOException {
        join(writeMetadata(false));
    }

    private List<MemberRole> roles() {
        List<MemberRole> roles = new ArrayList<>();
        for (int i = 0; i < memberIds.length; i++) {
            roles.add(new MemberRole(memberIds[i], states[i]));
        }
        return roles;
    }

    /** Bumps the event counter and records the role table on every member in service. */
    private CompletableFuture<Void> writeMetadata(boolean clean) {
        synchronized (metadataLock) {
            long e = events.incrementAndGet();
            List<MemberRole> roles = roles();
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int slot = 0; slot < memberIds.length; slot++) {
                MirroredDevice mirror = mirrors[slot / geometry.copies()];
                int copy = slot % geometry.copies();
                Member m = members.get(slot);
                if (m == null || !mirror.isLive(copy) || mirror.isSyncing(copy)) {
                    continue;
                }
                Superblock sb = new Superblock(arrayId, memberIds[slot], slot / geometry.copies(), copy, geometry, e,
                        clean, roles);
                writes.add(MetadataIo.write(m.device(), sb).exceptionally(error -> {
                    mirror.fail(copy, error);
                    LOG.warning("metadata write to " + m.name() + " failed: " + error.getMessage());
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
                Member m = members.get(slot);
                String state = m == null ? "missing" : !mirrors[g].isLive(c) ? "failed"
                        : mirrors[g].isSyncing(c) ? "syncing" : "active";
                if (state.equals("active")) {
                    groupLive++;
                    live++;
                }
                long[] lat = mirrors[g].latencyMicros(c);
                list.add(new ArrayStatus.MemberStatus(m == null ? memberIds[slot].toString() : m.name(),
                        g, c, state, synced[slot].get(), syncTotal[slot].get(), lat[0], lat[1], lat[2], lat[3]));
            }
            lost |= groupLive == 0;
        }
        ArrayStatus.State state = lost ? ArrayStatus.State.FAILED
                : live == memberIds.length ? ArrayStatus.State.ACTIVE : ArrayStatus.State.DEGRADED;
        List<Long> dirty = java.util.Arrays.stream(bitmaps).map(b -> (long) b.dirtyRegions()).toList();
        return new ArrayStatus(arrayId, geometry, events.get(), state, bitmaps[0].regionSize(), dirty, list);
    }

    /** Flushes, records a clean shutdown on every member in service, and closes the members. */
    @Override
    public void close() {
        closed = true;
        maintenance.shutdown();
        try {
            maintenance.awaitTermination(options.requestTimeout().toMillis() * 4, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            join(volume.flush());
            join(resyncsDone().exceptionally(e -> null));
            for (int g = 0; g < geometry.groups(); g++) {
                if (mirrors[g].fullyInSync()) {
                    // Nothing in flight and every copy flushed: the copies agree everywhere.
                    join(bitmaps[g].clearIdle(events.get() + 1, mirrors[g]::fullyInSync, true).exceptionally(e -> 0));
                }
            }
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

    /**
     * Options: request timeout per member request, resync rate, whether to force an ambiguous
     * assembly, the bitmap's region size (at create) and idle time before a region is cleared,
     * how often failed members are probed, and how to open members by name (null: never reopen).
     */
    public record ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force, long bitmapRegionSize,
                               Duration bitmapIdle, Duration probeInterval, MemberOpener opener) {
        public ArrayOptions(Duration requestTimeout, long resyncBytesPerSecond, boolean force) {
            this(requestTimeout, resyncBytesPerSecond, force, BitmapHeader.DEFAULT_REGION_SIZE, Duration.ofSeconds(5),
                    Duration.ofSeconds(2), null);
        }

        public static ArrayOptions defaults() {
            return new ArrayOptions(Duration.ofSeconds(10), 0, false);
        }

        public ArrayOptions withOpener(MemberOpener value) {
            return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, probeInterval, value);
        }

        public ArrayOptions withBitmap(long regionSize, Duration idle) {
            return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, regionSize, idle, probeInterval, opener);
        }

        public ArrayOptions withBitmapIdle(Duration idle) {
            return withBitmap(bitmapRegionSize, idle);
        }

        public ArrayOptions withProbeInterval(Duration value) {
            return new ArrayOptions(requestTimeout, resyncBytesPerSecond, force, bitmapRegionSize, bitmapIdle, value, opener);
        }
    }
}
