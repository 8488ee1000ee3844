package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;

/**
 * One iSCSI PDU: its 48-byte Basic Header Segment (copied, never changed after construction) and
 * its data segment, which this message owns — whoever consumes a Pdu releases it (it is a
 * {@link io.netty.buffer.ByteBufHolder}). Additional header segments are checked and dropped by
 * the decoder: nothing this initiator receives needs them.
 *
 * <p>Field offsets follow RFC 7143 §11; the accessors read big-endian fields of the BHS.
 */
public final class Pdu extends DefaultByteBufHolder {
    public static final int BHS = 48;
    public static final int RESERVED_TAG = 0xffffffff;

    // Initiator opcodes
    public static final int NOP_OUT = 0x00;
    public static final int SCSI_COMMAND = 0x01;
    public static final int TASK_MGMT_REQUEST = 0x02;
    public static final int LOGIN_REQUEST = 0x03;
    public static final int TEXT_REQUEST = 0x04;
    public static final int DATA_OUT = 0x05;
    public static final int LOGOUT_REQUEST = 0x06;
    // Target opcodes
    public static final int NOP_IN = 0x20;
    public static final int SCSI_RESPONSE = 0x21;
    public static final int TASK_MGMT_RESPONSE = 0x22;
    public static final int LOGIN_RESPONSE = 0x23;
    public static final int TEXT_RESPONSE = 0x24;
    public static final int DATA_IN = 0x25;
    public static final int LOGOUT_RESPONSE = 0x26;
    public static final int R2T = 0x31;
    public static final int ASYNC_MESSAGE = 0x32;
    public static final int REJECT = 0x3f;

    /** The F (final) bit of byte 1, shared by most PDUs. */
    public static final int FLAG_FINAL = 0x80;

    private final byte[] bhs;

    private Pdu(byte[] bhs, ByteBuf data) {
        super(data);
        this.bhs = bhs;
    }

    /**
     * A PDU from a header (copied; its DataSegmentLength and TotalAHSLength are set from {@code data}
     * and zero) and a data segment the PDU takes ownership of (null for none).
     */
    public static Pdu of(byte[] header, ByteBuf data) {
        if (header.length != BHS) {
            throw new IllegalArgumentException("a BHS is 48 bytes, not " + header.length);
        }
        ByteBuf d = data == null ? Unpooled.EMPTY_BUFFER : data;
        byte[] h = header.clone();
        int len = d.readableBytes();
        if (len > 0xffffff) {
            d.release();
            throw new IllegalArgumentException("data segment of " + len + " bytes does not fit 24 bits");
        }
        h[4] = 0;
        h[5] = (byte) (len >>> 16);
        h[6] = (byte) (len >>> 8);
        h[7] = (byte) len;
        return new Pdu(h, d);
    }

    /** For the decoder: the header as received (lengths included). */
    static Pdu decoded(byte[] header, ByteBuf data) {
        return new Pdu(header, data);
    }

    public int opcode() {
        return bhs[0] & 0x3f;
    }

    public boolean immediate() {
        return (bhs[0] & 0x40) != 0;
    }

    public int flags() {
        return bhs[1] & 0xff;
    }

    public boolean isFinal() {
        return (bhs[1] & FLAG_FINAL) != 0;
    }

    public int byteAt(int offset) {
        return bhs[offset] & 0xff;
    }

    public int intAt(int offset) {
        return (bhs[offset] & 0xff) << 24 | (bhs[offset + 1] & 0xff) << 16 | (bhs[offset + 2] & 0xff) << 8
                | (bhs[offset + 3] & 0xff);
    }

    public int shortAt(int offset) {
        return (bhs[offset] & 0xff) << 8 | (bhs[offset + 1] & 0xff);
    }

    public long longAt(int offset) {
        return (long) intAt(offset) << 32 | (intAt(offset + 4) & 0xffffffffL);
    }

    public int totalAhsLength() {
        return (bhs[4] & 0xff) * 4;
    }

    public int dataSegmentLength() {
        return (bhs[5] & 0xff) << 16 | (bhs[6] & 0xff) << 8 | (bhs[7] & 0xff);
    }

    public int initiatorTaskTag() {
        return intAt(16);
    }

    public int targetTransferTag() {
        return intAt(20);
    }

    /** StatSN of responses (bytes 24-27). */
    public int statSn() {
        return intAt(24);
    }

    public int expCmdSn() {
        return intAt(28);
    }

    public int maxCmdSn() {
        return intAt(32);
    }

    /** A copy of the 48 header bytes. */
    public byte[] header() {
        return bhs.clone();
    }

    /** The header bytes themselves, for the encoder (which only reads them): no copy per PDU sent. */
    byte[] bhs() {
        return bhs;
    }

    @Override
    public Pdu replace(ByteBuf content) {
        return new Pdu(bhs, content);
    }

    @Override
    public Pdu retain() {
        super.retain();
        return this;
    }

    @Override
    public Pdu retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public Pdu touch() {
        super.touch();
        return this;
    }

    @Override
    public Pdu touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return String.format("Pdu[opcode=0x%02x flags=0x%02x itt=0x%08x data=%d]", opcode(), flags(),
                initiatorTaskTag(), content().readableBytes());
    }

    /** Builds a BHS field by field (big-endian), for the request factories. */
    static final class Header {
        final byte[] b = new byte[BHS];

        Header(int opcode, boolean immediate, int flags) {
            b[0] = (byte) (opcode | (immediate ? 0x40 : 0));
            b[1] = (byte) flags;
        }

        Header u8(int offset, int value) {
            b[offset] = (byte) value;
            return this;
        }

        Header u16(int offset, int value) {
            b[offset] = (byte) (value >>> 8);
            b[offset + 1] = (byte) value;
            return this;
        }

        Header u32(int offset, int value) {
            b[offset] = (byte) (value >>> 24);
            b[offset + 1] = (byte) (value >>> 16);
            b[offset + 2] = (byte) (value >>> 8);
            b[offset + 3] = (byte) value;
            return this;
        }

        Header u64(int offset, long value) {
            u32(offset, (int) (value >>> 32));
            return u32(offset + 4, (int) value);
        }

        Header bytes(int offset, byte[] value) {
            System.arraycopy(value, 0, b, offset, value.length);
            return this;
        }

        Pdu with(ByteBuf data) {
            return Pdu.of(b, data);
        }
    }
}
