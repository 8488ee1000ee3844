package io.nbdvault.replication;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/** The framing shared by the metadata blocks: a magic at the start and a CRC32C of everything else in the last 4 bytes. */
final class MetadataBlock {
    private MetadataBlock() {
    }

    /** Seals a filled block: writes the checksum into its last 4 bytes. */
    static byte[] seal(ByteBuffer block) {
        byte[] bytes = block.array();
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        block.putInt(bytes.length - 4, (int) crc.getValue());
        return bytes;
    }

    /** Checks magic and checksum; returns a buffer positioned after the magic. */
    static ByteBuffer open(byte[] bytes, byte[] magic, String what) throws InvalidMetadataException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (!Arrays.equals(bytes, 0, magic.length, magic, 0, magic.length)) {
            throw new InvalidMetadataException("no " + what + " (bad magic)");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        if ((int) crc.getValue() != b.getInt(bytes.length - 4)) {
            throw new InvalidMetadataException(what + " checksum mismatch");
        }
        return b.position(magic.length);
    }
}
