package io.nbdvault.replication;

import java.util.List;
import java.util.UUID;

/** A snapshot of the array for `nbdvault status`. */
public record ArrayStatus(UUID array, ArrayGeometry geometry, long events, State state, List<MemberStatus> members) {
    public enum State { ACTIVE, DEGRADED, FAILED }

    /** One member; latencies are microseconds over its lifetime in this process. */
    public record MemberStatus(String name, int group, int copy, String state, long syncedBytes,
                               long p50Micros, long p99Micros, long p999Micros, long requests) {
    }
}
