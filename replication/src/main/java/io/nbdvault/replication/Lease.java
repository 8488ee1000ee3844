package io.nbdvault.replication;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Which process serves a member now: a lease in the member's last 4 KiB (inside the metadata
 * area, clear of the superblocks and bitmap), renewed while the array runs and given up on a clean
 * shutdown. It stops a second nbdvault, on this host or another, from assembling members that are
 * reached over the network (files and block devices are also locked with fcntl). A lease of a
 * process that died on this host is stale at once; one from another host is stale when it expires.
 *
 * <p>Layout (big-endian, 4096 bytes, {@link MetadataBlock} framing): magic, version, owner UUID,
 * pid, expiry (epoch milliseconds), host name (UTF-8, length-prefixed, at most 255 bytes).
 */
record Lease(UUID owner, String host, long pid, long expiresAtMillis) {
    static final byte[] MAGIC = "NBDVLEAS".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int SIZE = 4096;
    /** This process: every array it assembles holds its members under this owner. */
    static final UUID SELF = UUID.randomUUID();

    static Lease ours(long expiresAtMillis) {
        return new Lease(SELF, localHost(), ProcessHandle.current().pid(), expiresAtMillis);
    }

    static String localHost() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    /** Held by someone else right now: another live process here, or an unexpired lease from elsewhere. */
    boolean heldByAnother(long nowMillis) {
        if (owner.equals(SELF) || expiresAtMillis <= nowMillis) {
            return false;
        }
        if (host.equals(localHost())) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
        return true;
    }

    String describe() {
        return "nbdvault pid " + pid + " on " + host + " (lease until " + java.time.Instant.ofEpochMilli(expiresAtMillis) + ")";
    }

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(MAGIC).putInt(VERSION);
        b.putLong(owner.getMostSignificantBits()).putLong(owner.getLeastSignificantBits());
        b.putLong(pid).putLong(expiresAtMillis);
        byte[] name = host.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(name.length, 255);
        b.put((byte) n).put(name, 0, n);
        return MetadataBlock.seal(b);
    }

    static Lease decode(byte[] bytes) throws InvalidMetadataException {
        ByteBuffer b = MetadataBlock.open(bytes, MAGIC, "nbdvault lease");
        if (b.getInt() != VERSION) {
            throw new InvalidMetadataException("unsupported lease version");
        }
        UUID owner = new UUID(b.getLong(), b.getLong());
        long pid = b.getLong();
        long expires = b.getLong();
        int n = b.get() & 0xff;
        byte[] name = new byte[n];
        b.get(name);
        return new Lease(owner, new String(name, StandardCharsets.UTF_8), pid, expires);
    }
}
