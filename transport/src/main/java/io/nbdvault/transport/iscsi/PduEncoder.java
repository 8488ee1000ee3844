package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * {@link Pdu}s and {@link DataOutSequence}s to bytes without copying the data segments: a small
 * buffer for a header (and its digest), the data segment itself, and a small one for the padding
 * and data digest. A Data-Out sequence becomes a composite buffer (one per {@link #PDUS_PER_BUFFER}
 * PDUs) in which the bytes between two data segments (padding, data digest, the next header) are
 * slices of one buffer. Messages are
 * released by {@link MessageToMessageEncoder} after encoding; the data goes on with its own references.
 */
public final class PduEncoder extends MessageToMessageEncoder<Object> {
    private static final byte[] ZEROES = new byte[4];
    /**
     * PDUs of a Data-Out sequence per outbound buffer: each writev takes the buffers of a composite
     * anew (and at most IOV_MAX, 1024, of them), so a sequence of thousands of small segments is cut
     * into composites of at most 2 × 64 + 1 parts.
     */
    static final int PDUS_PER_BUFFER = 64;
    private boolean headerDigest;
    private boolean dataDigest;

    public PduEncoder() {
        super(Object.class);
    }

    @Override
    public boolean acceptOutboundMessage(Object msg) {
        return msg instanceof Pdu || msg instanceof DataOutSequence;
    }

    /** Turns digests on or off for the PDUs that follow; call on the channel's event loop. */
    public void digests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) {
        if (msg instanceof DataOutSequence s) {
            encode(ctx, s, out);
        } else {
            encode(ctx, (Pdu) msg, out);
        }
    }

    private void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
        ByteBuf data = pdu.content();
        int length = data.readableBytes();
        int pad = -length & 3;
        ByteBuf header = ctx.alloc().buffer(Pdu.BHS + 4 + (length > 0 ? pad + 4 : 0));
        header.writeBytes(pdu.bhs());
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
                tail.writeIntLE(dataDigest(data, data.readerIndex(), length));
            }
            out.add(tail);
        }
    }

    /**
     * A sequence as buffers of at most {@link #PDUS_PER_BUFFER} PDUs each: [header 0] data 0
     * [tail 0, header 1] data 1 ... [tail k-1], where the bracketed parts are slices of one buffer
     * (all of the sequence's headers, paddings and digests), each slice holding a reference of its own.
     */
    private void encode(ChannelHandlerContext ctx, DataOutSequence s, List<Object> out) {
        ByteBuf data = s.content();
        int length = data.readableBytes();
        int pdus = s.pdus();
        int headerLength = Pdu.BHS + (headerDigest ? 4 : 0);
        ByteBuf meta = ctx.alloc().directBuffer(pdus * (headerLength + 3 + (dataDigest ? 4 : 0)));
        try {
            for (int first = 0; first < pdus; first += PDUS_PER_BUFFER) {
                int end = Math.min(pdus, first + PDUS_PER_BUFFER);
                CompositeByteBuf wire = ctx.alloc().compositeDirectBuffer(2 * (end - first) + 1);
                out.add(wire);
                int gapStart = meta.writerIndex();
                for (int i = first; i < end; i++) {
                    int pos = i * s.segment;
                    int n = Math.min(s.segment, length - pos);
                    int headerAt = meta.writerIndex();
                    s.header(i, meta);
                    if (headerDigest) {
                        meta.writeIntLE(Crc32c.of(meta, headerAt, Pdu.BHS));
                    }
                    wire.addComponent(true, meta.retain().slice(gapStart, meta.writerIndex() - gapStart));
                    wire.addComponent(true, data.retain().slice(data.readerIndex() + pos, n));
                    gapStart = meta.writerIndex();
                    meta.writeZero(-n & 3);
                    if (dataDigest) {
                        meta.writeIntLE(dataDigest(data, data.readerIndex() + pos, n));
                    }
                }
                if (meta.writerIndex() > gapStart) {
                    wire.addComponent(true, meta.retain().slice(gapStart, meta.writerIndex() - gapStart));
                }
            }
        } finally {
            meta.release(); // the slices hold their own references; the sequence's data is released by our caller
        }
    }

    /** CRC32C of a data segment and its padding. */
    private static int dataDigest(ByteBuf data, int index, int length) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        for (java.nio.ByteBuffer part : data.nioBuffers(index, length)) {
            crc.update(part);
        }
        crc.update(ZEROES, 0, -length & 3);
        return (int) crc.getValue();
    }
}
