package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * One Data-Out sequence (RFC 7143 §11.7) as a single outbound message: {@code data} cut into PDUs
 * of at most {@code segment} bytes, DataSN counting from 0, buffer offsets from {@code offset}, the
 * F bit on the last. {@link PduEncoder} turns it into a few buffers whose headers share one
 * allocation — a 1 MiB write to a target accepting 8 KiB segments is 128 PDUs, and building a
 * {@link Pdu}, a slice and a header buffer for each (each an outbound entry of its own) cost more
 * CPU than the rest of the initiator's work on the write (JFR: recycling those objects).
 *
 * <p>Ownership: the sequence owns {@code data} (it is a {@link io.netty.buffer.ByteBufHolder});
 * the encoder releases it after encoding, the bytes going on with references of their own.
 */
final class DataOutSequence extends DefaultByteBufHolder {
    final long lun;
    final int itt;
    final int ttt;
    final int expStatSn;
    final int offset;
    final int segment;

    /**
     * @param data    the sequence's bytes (taken over; not empty)
     * @param offset  the buffer offset of its first byte within the command's data
     * @param segment the target's MaxRecvDataSegmentLength
     */
    DataOutSequence(long lun, int itt, int ttt, int expStatSn, int offset, int segment, ByteBuf data) {
        super(data);
        if (segment <= 0 || !data.isReadable()) {
            data.release();
            throw new IllegalArgumentException("a Data-Out sequence of " + data.readableBytes()
                    + " bytes in segments of " + segment);
        }
        this.lun = lun;
        this.itt = itt;
        this.ttt = ttt;
        this.expStatSn = expStatSn;
        this.offset = offset;
        this.segment = segment;
    }

    int pdus() {
        return (content().readableBytes() + segment - 1) / segment;
    }

    /** The BHS of PDU {@code i}: the same bytes {@link Pdu.Header} would build for it. */
    void header(int i, ByteBuf to) {
        int length = content().readableBytes();
        int pos = i * segment;
        int n = Math.min(segment, length - pos);
        int start = to.writerIndex();
        to.writeByte(Pdu.DATA_OUT);
        to.writeByte(pos + n >= length ? Pdu.FLAG_FINAL : 0);
        to.writeShort(0);
        to.writeByte(0); // TotalAHSLength
        to.writeMedium(n);
        to.writeLong(lun);
        to.writeInt(itt);
        to.writeInt(ttt);
        to.writeInt(0);
        to.writeInt(expStatSn);
        to.writeInt(0);
        to.writeInt(i); // DataSN
        to.writeInt(offset + pos);
        to.writeInt(0);
        assert to.writerIndex() - start == Pdu.BHS;
    }

    @Override
    public DataOutSequence replace(ByteBuf content) {
        return new DataOutSequence(lun, itt, ttt, expStatSn, offset, segment, content);
    }

    @Override
    public DataOutSequence retain() {
        super.retain();
        return this;
    }

    @Override
    public DataOutSequence touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return String.format("DataOutSequence[itt=0x%08x ttt=0x%08x offset=%d length=%d segment=%d]", itt, ttt, offset,
                content().readableBytes(), segment);
    }
}
