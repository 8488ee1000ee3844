package io.nbdvault.replication;

import java.util.UUID;

/** One slot of the array as the metadata records it: which member holds it and whether it is in service. */
public record MemberRole(UUID member, State state) {
    public enum State {
        ACTIVE,
        /** Out of service; it held the data until it left, so the write-intent bitmap covers what it missed. */
        FAILED,
        /** Being filled from scratch (a replacement, or a member away too long): only a full copy makes it current. */
        REBUILDING
    }
}
