package io.nbdvault.replication;

import java.util.List;
import java.util.UUID;

/**
 * A snapshot of the array for `nbdvault status`.
 *
 * @param bitmapRegionSize bytes of member data per write-intent bitmap bit
 * @param dirtyRegions     per group, the bitmap bits set now (regions that a resync would copy)
 * @param queuedRequests   requests waiting for a copy to come back (see --queue-timeout)
 * @param outageMillis     how long some group has had no readable copy (0: none lacks one)
 * @param integrityPasses  how the integrity MAC's passes around its AES run ("vector (256-bit)" or
 *                         "scalar"); null without integrity tags or before the volume key is given
 */
public record ArrayStatus(UUID array, ArrayGeometry geometry, long events, State state, long bitmapRegionSize,
                          List<Long> dirtyRegions, long queuedRequests, long outageMillis, List<MemberStatus> members,
                          String integrityPasses) {
    public enum State { ACTIVE, DEGRADED, FAILED }

    /**
     * One member; latencies are microseconds over its lifetime in this process.
     *
     * @param syncedBytes    bytes copied by its current or last resync
     * @param syncTotalBytes bytes that resync has to copy (all of it, or the bitmap's regions)
     * @param meanMicros     mean latency (means, unlike percentiles, can be subtracted between two snapshots)
     * @param corruptBlocks  blocks of this copy that failed their integrity check (reads and scrubs) since it was opened
     * @param repairedBlocks of those, the ones rewritten from a copy that verified
     */
    public record MemberStatus(String name, int group, int copy, String state, long syncedBytes, long syncTotalBytes,
                               long p50Micros, long p99Micros, long p999Micros, long requests, long meanMicros,
                               long corruptBlocks, long repairedBlocks) {
    }
}
