package io.nbdvault.replication;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the array's members were last reached — their URIs or paths as given (iSCSI secrets are
 * never part of a name) — kept in every member's metadata area (8 KiB before its end, beside the
 * lease), so that `serve` or `attach` given one reachable member finds the others, like
 * `mdadm --assemble --scan`. An address given on the command line wins over a recorded one:
 * replicas move. Written at create, at assembly and after a replace.
 *
 * <p>Layout (big-endian, 4096 bytes, {@link MetadataBlock} framing): magic, version, count, then
 * per slot a length-prefixed UTF-8 name (empty: unknown).
 */
record AddressBook(List<String> addresses) {
    static final byte[] MAGIC = "NBDVADDR".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int SIZE = 4096;
    /** From the member's end: just before the lease. */
    static final long FROM_END = Lease.SIZE + SIZE;

    /** The encoded block, or null when the names do not fit (then none is recorded). */
    byte[] encodeOrNull() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(MAGIC).putInt(VERSION).putInt(addresses.size());
        for (String a : addresses) {
            byte[] bytes = (a == null ? "" : a).getBytes(StandardCharsets.UTF_8);
            if (bytes.length > 0xffff || b.remaining() < 2 + bytes.length + 4) {
                return null;
            }
            b.putShort((short) bytes.length).put(bytes);
        }
        return MetadataBlock.seal(b);
    }

    static AddressBook decode(byte[] bytes) throws InvalidMetadataException {
        ByteBuffer b = MetadataBlock.open(bytes, MAGIC, "nbdvault address book");
        if (b.getInt() != VERSION) {
            throw new InvalidMetadataException("unsupported address book version");
        }
        int count = b.getInt();
        if (count < 0 || count > Superblock.MAX_MEMBERS) {
            throw new InvalidMetadataException("address book of " + count + " members");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int n = b.getShort() & 0xffff;
            if (n > b.remaining() - 4) {
                throw new InvalidMetadataException("address book entry overruns the block");
            }
            byte[] name = new byte[n];
            b.get(name);
            out.add(new String(name, StandardCharsets.UTF_8));
        }
        return new AddressBook(out);
    }
}
