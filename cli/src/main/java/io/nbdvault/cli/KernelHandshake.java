package io.nbdvault.cli;

import io.nbdvault.nativeshim.NbdKernel;
import io.nbdvault.nativeshim.UnixSocketFd;
import io.nbdvault.nbd.protocol.Nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The client half of the NBD handshake, done on the raw socket the kernel will then own. The
 * kernel driver speaks simple replies only, so structured replies are not negotiated.
 */
final class KernelHandshake {
    private KernelHandshake() {
    }

    static NbdKernel.Attachment negotiate(UnixSocketFd socket, int blockSize, int timeoutSeconds) throws IOException {
        ByteBuffer greeting = socket.readFully(18);
        if (greeting.getLong() != Nbd.NBDMAGIC || greeting.getLong() != Nbd.IHAVEOPT) {
            throw new IOException("the server did not greet as a newstyle NBD server");
        }
        socket.writeFully(ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).flip());
        socket.writeFully(ByteBuffer.allocate(22).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(6)
                .putInt(0).putShort((short) 0).flip());
        long size = -1;
        int flags = 0;
        while (true) {
            ByteBuffer header = socket.readFully(20);
            if (header.getLong() != Nbd.OPTION_REPLY_MAGIC) {
                throw new IOException("bad option reply from the server");
            }
            header.getInt();
            int type = header.getInt();
            int length = header.getInt();
            if (length < 0 || length > Nbd.MAX_OPTION_LENGTH) {
                throw new IOException("oversized option reply from the server");
            }
            ByteBuffer data = socket.readFully(length);
            if (type == Nbd.REP_ACK) {
                break;
            }
            if ((type & Nbd.REP_FLAG_ERROR) != 0) {
                throw new IOException("the server refused the export (error 0x" + Integer.toHexString(type) + ")");
            }
            if (type == Nbd.REP_INFO && length >= 12 && data.getShort(0) == Nbd.INFO_EXPORT) {
                size = data.getLong(2);
                flags = Short.toUnsignedInt(data.getShort(10));
            }
        }
        if (size < 0) {
            throw new IOException("the server did not report the export size");
        }
        return new NbdKernel.Attachment(size, blockSize, flags, timeoutSeconds);
    }
}
