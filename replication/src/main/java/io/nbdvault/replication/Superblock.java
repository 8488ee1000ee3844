package io.nbdvault.replication;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Replication metadata of one member, kept at the member's end (like md's v1.0 superblock) so
 * that with one mirror group each member is, from byte 0, a plain copy of the volume. Two copies
 * are written one after the other; the valid one with the higher event counter wins.
 *
 * <p>Layout (big-endian, 4096 bytes): magic, version, array and member UUIDs, position, geometry,
 * event counter, clean flag, the role table of the whole array, CRC32C of everything before it.
 */
public record Superblock(UUID array, UUID member, int group, int copy, ArrayGeometry geometry, long events,
                         boolean clean, List<MemberRole> roles) {
    static final byte[] MAGIC = "NBDVAULT".getBytes(StandardCharsets.US_ASCII);
    /** Version 1: no integrity. Version 2 adds the integrity block size (and old builds refuse it, as they must). */
    static final int VERSION = 1;
    static final int VERSION_INTEGRITY = 2;
    public static final int SIZE = 4096;
    static final int MAX_MEMBERS = 128;

    public Superblock {
        roles = List.copyOf(roles);
        if (roles.size() != geometry.groups() * geometry.copies()) {
            throw new IllegalArgumentException("role table has " + roles.size() + " entries for "
                    + geometry.groups() * geometry.copies() + " members");
        }
    }

    public int slot() {
        return group * geometry.copies() + copy;
    }

    public Superblock withEvents(long value, boolean isClean, List<MemberRole> newRoles) {
        return new Superblock(array, member, group, copy, geometry, value, isClean, newRoles);
    }

    public Superblock forMember(UUID memberId, int memberGroup, int memberCopy) {
        return new Superblock(array, memberId, memberGroup, memberCopy, geometry, events, clean, roles);
    }

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(MAGIC).putInt(geometry.integrity() ? VERSION_INTEGRITY : VERSION);
        putUuid(b, array);
        putUuid(b, member);
        b.putInt(group).putInt(copy);
        b.putInt(geometry.groups()).putInt(geometry.copies()).putInt(geometry.chunkSize()).putLong(geometry.dataSize());
        b.putLong(events).put((byte) (clean ? 1 : 0));
        b.putInt(roles.size());
        for (MemberRole r : roles) {
            putUuid(b, r.member());
            b.put((byte) r.state().ordinal());
        }
        if (geometry.integrity()) {
            b.putInt(geometry.integrityBlock());
        }
        return MetadataBlock.seal(b);
    }

    /** Decodes one copy; a reason instead of a superblock when it is not a valid one. */
    static Superblock decode(byte[] bytes) throws InvalidMetadataException {
        if (bytes.length != SIZE) {
            throw new InvalidMetadataException("superblock must be " + SIZE + " bytes");
        }
        ByteBuffer b = MetadataBlock.open(bytes, MAGIC, "nbdvault superblock");
        int version = b.getInt();
        if (version != VERSION && version != VERSION_INTEGRITY) {
            throw new InvalidMetadataException("superblock format version " + version + " is not supported");
        }
        UUID array = uuid(b);
        UUID member = uuid(b);
        int group = b.getInt();
        int copy = b.getInt();
        ArrayGeometry geometry;
        try {
            geometry = new ArrayGeometry(b.getInt(), b.getInt(), b.getInt(), b.getLong());
        } catch (IllegalArgumentException e) {
            throw new InvalidMetadataException("superblock geometry is invalid: " + e.getMessage());
        }
        long events = b.getLong();
        boolean clean = b.get() == 1;
        int count = b.getInt();
        if (count != geometry.groups() * geometry.copies() || count > MAX_MEMBERS
                || group < 0 || group >= geometry.groups() || copy < 0 || copy >= geometry.copies()) {
            throw new InvalidMetadataException("superblock position or role table is inconsistent");
        }
        List<MemberRole> roles = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            UUID id = uuid(b);
            int state = b.get();
            if (state < 0 || state >= MemberRole.State.values().length) {
                throw new InvalidMetadataException("unknown member state " + state);
            }
            roles.add(new MemberRole(id, MemberRole.State.values()[state]));
        }
        if (version == VERSION_INTEGRITY) {
            try {
                geometry = geometry.withIntegrity(b.getInt());
            } catch (IllegalArgumentException e) {
                throw new InvalidMetadataException("superblock integrity block is invalid: " + e.getMessage());
            }
        }
        return new Superblock(array, member, group, copy, geometry, events, clean, roles);
    }

    private static void putUuid(ByteBuffer b, UUID u) {
        b.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
    }

    private static UUID uuid(ByteBuffer b) {
        return new UUID(b.getLong(), b.getLong());
    }
}
