package io.nbdvault.transport.iscsi;

import io.nbdvault.nbd.codec.FramingDecoder;
import io.nbdvault.nbd.codec.PayloadCumulator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;

import java.util.List;

/**
 * Bytes to {@link Pdu}s: BHS, AHS (skipped), header digest, data segment padded to 4 bytes, data
 * digest. Digests are off during login and switched on (on the event loop) once the login
 * negotiated them. A data segment longer than what we declared in MaxRecvDataSegmentLength, an
 * unknown target opcode or a digest mismatch is a {@link CorruptedFrameException}: with
 * ErrorRecoveryLevel 0 the connection is dropped. A large data segment is a slice of the reads it
 * arrived in, not a copy ({@link PayloadCumulator}); small PDUs are merged into one buffer.
 */
public final class PduDecoder extends FramingDecoder {
    private final int maxDataSegment;
    private final PayloadCumulator payloads = new PayloadCumulator();
    private boolean headerDigest;
    private boolean dataDigest;
    private boolean broken;

    /** @param maxDataSegment the largest data segment accepted (our MaxRecvDataSegmentLength) */
    public PduDecoder(int maxDataSegment) {
        this.maxDataSegment = maxDataSegment;
        setCumulator(payloads);
    }

    /** Turns digests on or off for the PDUs that follow; call on the channel's event loop. */
    public void digests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (broken) {
            in.skipBytes(in.readableBytes()); // the stream lost its framing: nothing after the error is read
            return;
        }
        try {
            decodeOne(in, out);
        } catch (RuntimeException e) {
            broken = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    private void decodeOne(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < Pdu.BHS) {
            return;
        }
        int start = in.readerIndex();
        int opcode = in.getByte(start) & 0x3f;
        if (!knownTargetOpcode(opcode)) {
            throw new CorruptedFrameException(String.format("unknown iSCSI opcode 0x%02x from the target", opcode));
        }
        int ahs = (in.getByte(start + 4) & 0xff) * 4;
        int dataLength = in.getMedium(start + 5) & 0xffffff;
        if (dataLength > maxDataSegment) {
            throw new TooLongFrameException("iSCSI data segment of " + dataLength + " bytes exceeds our "
                    + "MaxRecvDataSegmentLength " + maxDataSegment);
        }
        int headerLength = Pdu.BHS + ahs + (headerDigest ? 4 : 0);
        int padded = (dataLength + 3) & ~3;
        int total = headerLength + padded + (dataDigest && dataLength > 0 ? 4 : 0);
        if (in.readableBytes() < total) {
            payloads.awaiting(dataLength);
            return;
        }
        payloads.awaiting(0);
        if (headerDigest) {
            int expected = Crc32c.of(in, start, Pdu.BHS + ahs);
            int got = in.getIntLE(start + Pdu.BHS + ahs);
            if (expected != got) {
                throw new CorruptedFrameException(String.format("iSCSI header digest mismatch (0x%08x, expected 0x%08x)",
                        got, expected));
            }
        }
        if (dataDigest && dataLength > 0) {
            int expected = Crc32c.of(in, start + headerLength, padded);
            int got = in.getIntLE(start + headerLength + padded);
            if (expected != got) {
                throw new CorruptedFrameException(String.format("iSCSI data digest mismatch (0x%08x, expected 0x%08x)",
                        got, expected));
            }
        }
        byte[] bhs = new byte[Pdu.BHS];
        in.getBytes(start, bhs);
        ByteBuf data = dataLength == 0 ? io.netty.buffer.Unpooled.EMPTY_BUFFER
                : in.retainedSlice(start + headerLength, dataLength);
        in.readerIndex(start + total);
        out.add(Pdu.decoded(bhs, data));
    }

    static boolean knownTargetOpcode(int opcode) {
        return switch (opcode) {
            case Pdu.NOP_IN, Pdu.SCSI_RESPONSE, Pdu.TASK_MGMT_RESPONSE, Pdu.LOGIN_RESPONSE, Pdu.TEXT_RESPONSE,
                 Pdu.DATA_IN, Pdu.LOGOUT_RESPONSE, Pdu.R2T, Pdu.ASYNC_MESSAGE, Pdu.REJECT -> true;
            default -> false;
        };
    }
}
