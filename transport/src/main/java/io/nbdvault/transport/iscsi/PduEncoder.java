package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * {@link Pdu}s to bytes without copying the data segment: a small buffer for the header (and its
 * digest), the data segment itself, and a small one for the padding and data digest. The Pdu is
 * released by {@link MessageToMessageEncoder} after encoding; the data goes on with its own reference.
 */
public final class PduEncoder extends MessageToMessageEncoder<Pdu> {
    private static final byte[] ZEROES = new byte[4];
    private boolean headerDigest;
    private boolean dataDigest;

    public PduEncoder() {
        super(Pdu.class);
    }

    /** Turns digests on or off for the PDUs that follow; call on the channel's event loop. */
    public void digests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
        ByteBuf data = pdu.content();
        int length = data.readableBytes();
        int pad = -length & 3;
        ByteBuf header = ctx.alloc().buffer(Pdu.BHS + 4 + (length > 0 ? pad + 4 : 0));
        header.writeBytes(pdu.header());
        if (headerDigest) {
            header.writeIntLE(Crc32c.of(header, 0, Pdu.BHS));
        }
        if (length == 0) {
            out.add(header);
            return;
        }
        out.add(header);
        out.add(data.retain());
        if (pad > 0 || dataDigest) {
            ByteBuf tail = ctx.alloc().buffer(8);
            tail.writeBytes(ZEROES, 0, pad);
            if (dataDigest) {
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                for (java.nio.ByteBuffer part : data.nioBuffers()) {
                    crc.update(part);
                }
                crc.update(ZEROES, 0, pad);
                tail.writeIntLE((int) crc.getValue());
            }
            out.add(tail);
        }
    }
}
