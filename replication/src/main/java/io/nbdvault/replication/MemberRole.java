package io.nbdvault.replication;

import java.util.UUID;

/** One slot of the array as the metadata records it: which member holds it and whether it is in service. */
public record MemberRole(UUID member, State state) {
    public enum State {
        ACTIVE,
        FAILED
    }
}
