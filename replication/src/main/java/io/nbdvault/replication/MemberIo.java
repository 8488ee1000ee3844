package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.DeadlineDevice;

import java.time.Duration;

/**
 * The two views the array has of one member, both with a deadline on every request: {@code data},
 * its data area as one copy of a mirror (bounded → deadline → [tagged] → metered, like a chain of
 * nbdkit filters; tagged when the array has integrity), and {@code metadata}, the whole device for
 * superblocks and the bitmap at its end. Owns the member's device: closing this closes it.
 */
record MemberIo(String name, BlockDevice raw, BlockDevice metadata, MeteredDevice data) implements AutoCloseable {
    /** @param integrity the array's, or null when it has none */
    static MemberIo of(Member member, ArrayGeometry geometry, int group, Duration deadline, ArrayIntegrity integrity) {
        BlockDevice raw = member.device();
        BlockDevice metadata = new DeadlineDevice(raw, deadline, member.name());
        BlockDevice data = new DeadlineDevice(new BoundedDevice(raw, geometry.memberDataSize()), deadline, member.name());
        if (integrity != null) {
            data = new TaggedDevice(data, metadata, geometry.memberDataSize(), group, member.name(), integrity);
        }
        return new MemberIo(member.name(), raw, metadata, new MeteredDevice(data));
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
