package io.nbdvault.replication;

import java.util.ArrayList;
import java.util.List;

/** Builds `nbdvault status`'s snapshot from the live state; safe from any thread (reads volatile and atomic state only). */
final class ArrayStatusReport {
    private ArrayStatusReport() {
    }

    static ArrayStatus of(ArrayParts parts, long queuedRequests) {
        Membership membership = parts.membership();
        ArrayGeometry geometry = membership.geometry;
        List<ArrayStatus.MemberStatus> list = new ArrayList<>();
        int live = 0;
        boolean lost = false;
        for (int g = 0; g < geometry.groups(); g++) {
            CopySet copies = parts.copies()[g];
            int groupLive = 0;
            for (int c = 0; c < geometry.copies(); c++) {
                MemberSlot s = membership.slot(g * geometry.copies() + c);
                String state = s.io == null ? "missing" : !copies.isLive(c) ? "failed" : copies.isSyncing(c) ? "syncing" : "active";
                if (state.equals("active")) {
                    groupLive++;
                    live++;
                }
                long[] lat = copies.device(c).latencyMicros();
                TaggedDevice tagged = copies.device(c).tagged();
                list.add(new ArrayStatus.MemberStatus(s.name(), g, c, state, s.synced.get(), s.syncTotal.get(),
                        lat[0], lat[1], lat[2], lat[3], lat[4], tagged == null ? 0 : tagged.corruptBlocks(),
                        tagged == null ? 0 : tagged.repairedBlocks()));
            }
            lost |= groupLive == 0;
        }
        ArrayStatus.State state = lost ? ArrayStatus.State.FAILED
                : live == membership.size() ? ArrayStatus.State.ACTIVE : ArrayStatus.State.DEGRADED;
        List<Long> dirty = java.util.Arrays.stream(parts.bitmaps()).map(b -> (long) b.dirtyRegions()).toList();
        return new ArrayStatus(membership.arrayId, geometry, membership.events(), state, parts.bitmaps()[0].regionSize(),
                dirty, queuedRequests, parts.availability().outageMillis(), list, integrityPasses(parts.integrity()));
    }

    private static String integrityPasses(ArrayIntegrity integrity) {
        BlockMac mac = integrity == null ? null : integrity.mac();
        return mac == null ? null : mac.passes();
    }
}
