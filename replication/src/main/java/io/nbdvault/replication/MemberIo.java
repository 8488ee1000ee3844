package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.DeadlineDevice;

import java.time.Duration;

/**
 * The two views the array has of one member, both with a deadline on every request: {@code data},
 * its data area as one copy of a mirror (bounded → deadline → metered, like a chain of nbdkit
 * filters), and {@code metadata}, the whole device for superblocks and the bitmap at its end.
 * Owns the member's device: closing this closes it.
 */
record MemberIo(String name, BlockDevice raw, BlockDevice metadata, MeteredDevice data) implements AutoCloseable {
    static MemberIo of(Member member, long dataSize, Duration deadline) {
        BlockDevice raw = member.device();
        return new MemberIo(member.name(), raw, new DeadlineDevice(raw, deadline, member.name()),
                new MeteredDevice(new DeadlineDevice(new BoundedDevice(raw, dataSize), deadline, member.name())));
    }

    /** A stand-in for a member that is not there: every request fails, so its copy stays failed. */
    static MemberIo absent(String name, long dataSize) {
        return new MemberIo(name, new AbsentDevice(dataSize), new AbsentDevice(dataSize),
                new MeteredDevice(new AbsentDevice(dataSize)));
    }

    @Override
    public void close() {
        raw.close();
    }

    @Override
    public String toString() {
        return name;
    }
}
