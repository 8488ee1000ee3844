package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Futures;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * The replicated volume, wired: G mirror groups of N copies, striped. Per group, each member is a
 * chain (bounded → deadline → metered, {@link MemberIo}) under a {@link MirroredDevice} (I/O
 * only), an {@link IntentLogDevice} above it (write gate and write-intent bitmap), and a
 * {@link GroupJobs} queue beside it (resync, scrub); a {@link StripedDevice} joins the groups, and
 * an {@link OutageQueue} on top lets requests wait out a group that lost every copy.
 * Who is in the array ({@link Membership}), how members come back ({@link MemberReturns}), the
 * administrator's operations ({@link ArrayAdmin}) and the bitmap's clearing ({@link BitmapClearing})
 * live apart, and all of them run on one control thread. The thread model is written down in this
 * package's package-info.
 */
public final class ReplicatedArray implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ReplicatedArray.class.getName());

    private final ArrayParts parts;
    private final StripedDevice striped;
    private final OutageQueue outages;
    private final BlockDevice top;
    private final MemberReturns returns;
    private final ArrayAdmin admin;
    private final BitmapClearing clearing;
    private final Leases leases;
    private volatile ScheduledFuture<?> maintenance;
    private volatile ScheduledFuture<?> leaseRenewal;
    private volatile boolean closed;
    /** With integrity: a new array's tags are written when the key is given; resyncs found at assembly wait for it too. */
    private boolean freshTags;
    private Runnable resyncsAwaitingKey;

    private ReplicatedArray(UUID arrayId, ArrayGeometry geometry, Member[] given, UUID[] ids, MemberRole.State[] states,
                            long events, ArrayOptions options, BitmapHeader bitmapHeader, BitSet[] dirty,
                            List<String> unreachable) {
        ScheduledExecutorService control = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nbdvault-array-control");
            t.setDaemon(true);
            return t;
        });
        int groups = geometry.groups();
        int copies = geometry.copies();
        MemberSlot[] slots = new MemberSlot[given.length];
        Availability availability = new Availability();
        CopySet[] copySets = new CopySet[groups];
        Membership[] membership = new Membership[1];
        ArrayIntegrity integrity = geometry.integrity()
                ? new ArrayIntegrity(arrayId, geometry.integrityBlock(), ArrayIntegrity.CACHE_BYTES) : null;
        for (int g = 0; g < groups; g++) {
            List<MeteredDevice> devices = new ArrayList<>();
            for (int c = 0; c < copies; c++) {
                int i = g * copies + c;
                MemberIo io = given[i] == null ? null
                        : MemberIo.of(given[i], geometry, g, options.requestTimeout(), integrity);
                slots[i] = new MemberSlot(i, copies, io, ids[i], states[i]);
                devices.add(io != null ? io.data() : MemberIo.absent(ids[i].toString(), geometry.memberDataSize()).data());
            }
            int group = g;
            // Failures are seen on I/O threads; they are recorded on the control thread.
            copySets[g] = new CopySet(devices, (copy, cause) -> execute(control,
                    () -> membership[0].recordFailure(group * copies + copy)), availability);
        }
        membership[0] = new Membership(arrayId, geometry, slots, copySets, events);
        availability.watch(copySets);
        WriteIntentBitmap[] bitmaps = new WriteIntentBitmap[groups];
        GroupBitmapStore[] stores = new GroupBitmapStore[groups];
        GroupJobs[] jobs = new GroupJobs[groups];
        List<BlockDevice> logged = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            WriteGate gate = new WriteGate();
            stores[g] = new GroupBitmapStore(membership[0], copySets[g], g);
            bitmaps[g] = new WriteIntentBitmap(bitmapHeader.regionSize(), geometry.memberDataSize(),
                    bitmapHeader.clearedAtEvents(), stores[g]);
            bitmaps[g].load(dirty[g]);
            jobs[g] = new GroupJobs(copySets[g], gate, bitmaps[g], control);
            int quorum = options.writeQuorum() >= copies ? 0 : options.writeQuorum();
            logged.add(new IntentLogDevice(new MirroredDevice(copySets[g], quorum, options.maxLagBytes()), gate, bitmaps[g]));
        }
        this.parts = new ArrayParts(membership[0], copySets, bitmaps, stores, jobs, options, control, availability, integrity);
        this.striped = new StripedDevice(logged, geometry.chunkSize());
        this.outages = new OutageQueue(striped, availability, options.queueTimeout());
        this.top = integrity == null ? outages : new KeyGateDevice(outages, integrity);
        this.returns = new MemberReturns(parts, unreachable);
        this.admin = new ArrayAdmin(parts, returns);
        this.clearing = new BitmapClearing(parts);
        this.leases = new Leases(membership[0]);
        for (MemberSlot s : slots) {
            if (s.role != MemberRole.State.ACTIVE || s.io == null) {
                copySets[s.group].failStale(s.copy, new IOException("member is not in sync"));
            }
        }
    }

    private static void execute(ScheduledExecutorService control, Runnable task) {
        try {
            control.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            LOG.fine("array closed; not recording: " + closing.getMessage());
        }
    }

    /** Runs {@code op} on the control thread and completes as the future it returns does. */
    private <T> CompletableFuture<T> onControl(Supplier<CompletableFuture<T>> op) {
        return CompletableFuture.supplyAsync(op, parts.control()).thenCompose(f -> f);
    }

    /** Starts the periodic work once assembly is complete, so the probe never races the resyncs assembly starts. */
    private ReplicatedArray startMaintenance() {
        ArrayOptions o = parts.options();
        long period = Math.max(10, Math.min(o.bitmapIdle().toMillis(), o.probeInterval().toMillis()));
        maintenance = parts.control().scheduleWithFixedDelay(() -> {
            if (!closed) {
                clearing.tick();
                returns.probe();
            }
        }, period, period, TimeUnit.MILLISECONDS);
        long renewal = Leases.TERM.toMillis() / 3;
        leaseRenewal = parts.control().scheduleWithFixedDelay(() -> {
            if (!closed) {
                leases.renew();
            }
        }, renewal, renewal, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Writes fresh metadata to every member and returns the array, clean and in sync. */
    public static ReplicatedArray create(List<Member> members, ArrayGeometry geometry, ArrayOptions options)
            throws IOException {
        ArrayFormat.Created made = ArrayFormat.write(members, geometry, options);
        MemberRole.State[] states = new MemberRole.State[members.size()];
        java.util.Arrays.fill(states, MemberRole.State.ACTIVE);
        BitSet[] clean = new BitSet[geometry.groups()];
        java.util.Arrays.setAll(clean, g -> new BitSet());
        ReplicatedArray a = new ReplicatedArray(made.array(), geometry, members.toArray(Member[]::new), made.ids(), states,
                1, options, made.header(), clean, List.of());
        a.markDirty();
        a.freshTags = geometry.integrity();
        return a.startMaintenance();
    }

    public static ReplicatedArray assemble(List<Member> given, ArrayOptions options) throws IOException {
        return assemble(given, List.of(), options);
    }

    /**
     * Assembles from whatever members are given, in any order: positions come from their metadata
     * ({@link ArrayAssembly} decides). Members missing or stale are kept out and resynchronised;
     * {@code unreachable} names members that could not be opened now: they are probed and join later.
     */
    public static ReplicatedArray assemble(List<Member> given, List<String> unreachable, ArrayOptions options)
            throws IOException {
        ArrayAssembly plan = ArrayAssembly.plan(given, options);
        List<String> away = new ArrayList<>(unreachable);
        for (Member m : plan.leftOut()) {
            m.device().close();
            away.add(m.name());
        }
        plan.ignored().forEach(m -> m.device().close());
        ReplicatedArray a = new ReplicatedArray(plan.newest().array(), plan.newest().geometry(), plan.members(), plan.ids(),
                plan.states(), plan.newest().events(), options, plan.bitmaps().header(), plan.bitmaps().dirty(), away);
        MemberDiscovery.keepRecordedAddresses(a.parts.membership(), plan.members(), options.requestTimeout());
        a.markDirty();
        if (!plan.bitmaps().valid()) {
            for (int g = 0; g < a.geometry().groups(); g++) {
                int group = g;
                join(a.onControl(() -> a.parts.persistBitmap(group)));
            }
        }
        Runnable resyncs = () -> plan.resyncs().forEach((slot, onlyDirty) ->
                a.returns.startResync(a.parts.membership().slot(slot), onlyDirty, options.resyncBytesPerSecond()));
        if (a.parts.integrity() != null) {
            // A resync writes tags, which needs the key: it starts once the volume is unlocked.
            a.resyncsAwaitingKey = resyncs;
        } else {
            join(a.onControl(() -> {
                resyncs.run();
                return CompletableFuture.completedFuture(null);
            }));
        }
        return a.startMaintenance();
    }

    /**
     * The recorded addresses of the members not among {@code given}: what `serve` needs to open to
     * assemble the whole array from one member (see {@link MemberDiscovery}).
     */
    public static List<String> recordedAddresses(List<Member> given, java.time.Duration deadline) {
        return MemberDiscovery.recordedAddresses(given, deadline);
    }

    WriteIntentBitmap bitmapForTest(int group) {
        return parts.bitmaps()[group];
    }

    public BlockDevice volume() {
        return top;
    }

    /** Whether the members carry integrity tags (then {@link #enableIntegrity} must follow the unlock). */
    public boolean hasIntegrity() {
        return parts.integrity() != null;
    }

    /**
     * Gives an array with integrity its volume key (the LUKS master key, from which the tag keys
     * are derived): from now on every block read is checked and every update tagged; until then
     * reads are unchecked (only the LUKS header is read before the unlock) and updates refused. A new
     * array's members are zeroed and tagged; after an unclean shutdown the regions the bitmap marked
     * are settled (see {@link ScrubJob.Mode#SETTLE}) before this returns, and the resyncs assembly
     * found needed start. Does nothing for an array without integrity, or the second time.
     */
    public void enableIntegrity(java.nio.ByteBuffer volumeKey) throws IOException {
        ArrayIntegrity integrity = parts.integrity();
        if (integrity == null || integrity.mac() != null) {
            return;
        }
        byte[] key = new byte[volumeKey.remaining()];
        volumeKey.duplicate().get(key);
        try {
            integrity.arm(key);
        } finally {
            java.util.Arrays.fill(key, (byte) 0);
        }
        // What the bitmap marked before now (a crash's leftovers), not the regions the zeroing below marks.
        List<List<long[]>> marked = join(onControl(() -> CompletableFuture.completedFuture(
                java.util.Arrays.stream(parts.jobs()).map(GroupJobs::dirtyRanges).toList())));
        if (freshTags) {
            join(outages.writeZeroes(0, outages.size(), 0));
        }
        join(onControl(() -> {
            List<CompletableFuture<Long>> settled = new ArrayList<>();
            for (int g = 0; g < parts.jobs().length; g++) {
                if (!marked.get(g).isEmpty()) {
                    settled.add(parts.jobs()[g].settle(marked.get(g)));
                }
            }
            if (resyncsAwaitingKey != null) {
                resyncsAwaitingKey.run();
                resyncsAwaitingKey = null;
            }
            return Futures.all(settled);
        }));
        integrity.markSettled();
    }

    public UUID id() {
        return parts.membership().arrayId;
    }

    public ArrayGeometry geometry() {
        return parts.geometry();
    }

    /** Completes when every resync started so far has finished. */
    public CompletableFuture<Void> resyncsDone() {
        return returns.resyncsDone();
    }

    /** Compares the copies of every group; with {@code repair} makes them agree (the majority wins). */
    public CompletableFuture<Long> scrub(boolean repair) {
        return onControl(() -> admin.scrub(repair));
    }

    /** Takes the member named {@code name} (as given at assembly) out of service; it stays out until re-added. */
    public CompletableFuture<Void> fail(String name) {
        return fail(name, false);
    }

    /** As {@link #fail(String)}; with {@code force} even the last up-to-date copy of a group. */
    public CompletableFuture<Void> fail(String name, boolean force) {
        return onControl(() -> admin.fail(name, force));
    }

    /**
     * Takes a failed member back (like `mdadm --re-add`): reopens it, checks it is this member, and
     * resynchronises it — from the bitmap when that covers its absence. Completes once the resync
     * has started, with whether it copies only the bitmap's regions.
     */
    public CompletableFuture<Boolean> reAdd(String name) {
        return onControl(() -> returns.reAdd(name));
    }

    /** Puts {@code newName} in {@code oldName}'s place with a full online rebuild at up to {@code bytesPerSecond} (0: unlimited). */
    public CompletableFuture<Void> replace(String oldName, String newName, long bytesPerSecond) {
        return replace(oldName, newName, bytesPerSecond, false);
    }

    /** As the three-argument form; with {@code force} a NEW that holds another volume's metadata is overwritten. */
    public CompletableFuture<Void> replace(String oldName, String newName, long bytesPerSecond, boolean force) {
        return onControl(() -> admin.replace(oldName, newName, bytesPerSecond, force));
    }

    public ArrayStatus status() {
        return ArrayStatusReport.of(parts, outages.waiting());
    }

    /** Records that the array runs (not clean), takes the members' leases and records where they are. */
    private void markDirty() throws IOException {
        join(onControl(() -> parts.membership().writeMetadata(false)));
        join(onControl(leases::renew));
        join(onControl(() -> parts.membership().writeAddresses()));
    }

    /**
     * Cancels background jobs, flushes, clears the bitmaps of groups in sync, records a clean
     * shutdown on every member in service, and closes the members. Holds no lock while it waits,
     * and every wait is bounded by the members' request deadline.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (maintenance != null) {
            maintenance.cancel(false);
            leaseRenewal.cancel(false);
        }
        Membership membership = parts.membership();
        try {
            join(Futures.all(java.util.Arrays.stream(parts.jobs()).map(GroupJobs::cancelAll).toList()));
            // Every write settled on every copy (lagging ones too) before anything is called clean.
            join(Futures.all(java.util.Arrays.stream(parts.jobs()).map(GroupJobs::drainWrites).toList()));
            // Below the outage queue: shutting down never waits out the queue timeout.
            join(striped.flush().exceptionally(e -> {
                LOG.warning("final flush failed: " + BlockDeviceException.unwrap(e).getMessage());
                return null;
            }));
            for (int g = 0; g < geometry().groups(); g++) {
                CopySet copies = parts.copies()[g];
                boolean unsettled = parts.integrity() != null && !parts.integrity().settled();
                if (!unsettled && parts.integrity() != null && parts.integrity().mac() != null) {
                    // The tags held in memory, durable before any region is called clean.
                    int group = g;
                    boolean written = parts.writeBackTags(group).handle((x, e) -> {
                        if (e != null) {
                            LOG.warning("writing back the tags of group " + group + " failed: "
                                    + BlockDeviceException.unwrap(e).getMessage() + "; its regions stay marked");
                        }
                        return e == null;
                    }).join();
                    if (!written) {
                        continue;
                    }
                }
                if (copies.fullyInSync() && !unsettled) {
                    // Nothing in flight and every copy flushed: the copies agree everywhere (and, with
                    // integrity, the regions a crash left marked were settled: else they stay marked).
                    join(parts.bitmaps()[g].clearIdle(membership.events() + 1, copies::fullyInSync, true).exceptionally(e -> 0));
                }
            }
            join(onControl(membership::metadataWritesDone));
            join(onControl(() -> membership.writeMetadata(true)));
            join(onControl(leases::giveUp));
        } catch (IOException e) {
            LOG.warning("clean shutdown could not be recorded: " + e.getMessage());
        }
        parts.control().shutdown();
        try {
            parts.control().awaitTermination(parts.options().requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        outages.close();
    }

    static <T> T join(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable cause = BlockDeviceException.unwrap(e);
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause.getMessage(), cause);
        }
    }
}
