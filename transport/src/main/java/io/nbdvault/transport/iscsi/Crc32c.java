package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * iSCSI header and data digests: CRC32C (RFC 7143 §13.1) over a buffer's bytes. On the wire the
 * 32-bit result goes least significant byte first — RFC 3720 B.4 gives 32 zero bytes as
 * {@code aa 36 91 8a}, which is {@code 0x8a9136aa} from {@link CRC32C} written little-endian.
 */
final class Crc32c {
    private Crc32c() {
    }

    /** CRC32C of {@code length} bytes of {@code buf} from {@code index}, indices untouched. */
    static int of(ByteBuf buf, int index, int length) {
        CRC32C crc = new CRC32C();
        if (buf.nioBufferCount() == 1) {
            crc.update(buf.nioBuffer(index, length));
        } else {
            for (ByteBuffer part : buf.nioBuffers(index, length)) {
                crc.update(part);
            }
        }
        return (int) crc.getValue();
    }

    static int of(ByteBuf buf) {
        return of(buf, buf.readerIndex(), buf.readableBytes());
    }
}
