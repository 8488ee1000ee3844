package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PDU codec with nothing but byte buffers. */
class PduCodecTest {
    static {
        LeakCheck.paranoid();
    }

    private static String wire(byte[] data) {
        ByteBuf b = Unpooled.buffer(4).writeIntLE(Crc32c.of(Unpooled.wrappedBuffer(data)));
        return HexFormat.of().formatHex(b.array(), 0, 4);
    }

    /** A read completing after the close (io_uring can deliver one) is released, not cumulated for ever. */
    @Test
    void aReadAfterTheChannelClosedIsReleased() throws Exception {
        PduDecoder decoder = new PduDecoder(8192);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        io.netty.channel.ChannelHandlerContext ctx = ch.pipeline().context(decoder);
        ch.close().sync();
        ByteBuf late = Unpooled.directBuffer(20).writeZero(20); // part of a header: the decoder would wait for more
        decoder.channelRead(ctx, late);
        assertEquals(0, late.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void crc32cMatchesRfc3720AppendixB4() {
        byte[] zeroes = new byte[32];
        byte[] ones = new byte[32];
        byte[] up = new byte[32];
        byte[] down = new byte[32];
        for (int i = 0; i < 32; i++) {
            ones[i] = (byte) 0xff;
            up[i] = (byte) i;
            down[i] = (byte) (31 - i);
        }
        assertEquals("aa36918a", wire(zeroes));
        assertEquals("43aba862", wire(ones));
        assertEquals("4e79dd46", wire(up));
        assertEquals("5cdb3f11", wire(down));
    }

    private static byte[] targetHeader(int opcode, int itt, int dataLength) {
        byte[] h = new byte[48];
        h[0] = (byte) opcode;
        h[1] = (byte) 0x80;
        h[5] = (byte) (dataLength >>> 16);
        h[6] = (byte) (dataLength >>> 8);
        h[7] = (byte) dataLength;
        h[16] = (byte) (itt >>> 24);
        h[17] = (byte) (itt >>> 16);
        h[18] = (byte) (itt >>> 8);
        h[19] = (byte) itt;
        return h;
    }

    @Test
    void decodesAcrossFragmentsWithPaddingAndDigests() {
        for (boolean digests : new boolean[] {false, true}) {
            PduDecoder decoder = new PduDecoder(8192);
            decoder.digests(digests, digests);
            EmbeddedChannel ch = new EmbeddedChannel(decoder);
            byte[] header = targetHeader(Pdu.DATA_IN, 7, 5);
            ByteBuf wire = Unpooled.buffer();
            wire.writeBytes(header);
            if (digests) {
                wire.writeIntLE(Crc32c.of(Unpooled.wrappedBuffer(header)));
            }
            byte[] data = {1, 2, 3, 4, 5, 0, 0, 0};
            wire.writeBytes(data);
            if (digests) {
                wire.writeIntLE(Crc32c.of(Unpooled.wrappedBuffer(data)));
            }
            // byte by byte: nothing comes out before the whole PDU is there
            while (wire.readableBytes() > 1) {
                ch.writeInbound(wire.readRetainedSlice(1));
                assertNull(ch.readInbound());
            }
            ch.writeInbound(wire.readRetainedSlice(1));
            wire.release();
            Pdu pdu = ch.readInbound();
            assertEquals(Pdu.DATA_IN, pdu.opcode());
            assertEquals(7, pdu.initiatorTaskTag());
            assertEquals(5, pdu.content().readableBytes());
            assertEquals(3, pdu.content().getByte(2));
            pdu.release();
            assertFalse(ch.finish());
        }
    }

    /** A large data segment arriving in many reads is a slice of them (digest checked across the pieces); small PDUs follow. */
    @Test
    void largeDataSegmentIsGatheredNotCopied() {
        PduDecoder decoder = new PduDecoder(1 << 20);
        decoder.digests(false, true);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        byte[] data = new byte[256 * 1024];
        new java.util.Random(4).nextBytes(data);
        ByteBuf wire = Unpooled.buffer().writeBytes(targetHeader(Pdu.DATA_IN, 9, data.length)).writeBytes(data)
                .writeIntLE(Crc32c.of(Unpooled.wrappedBuffer(data))).writeBytes(targetHeader(Pdu.NOP_IN, 10, 0));
        while (wire.isReadable()) {
            ch.writeInbound(wire.readRetainedSlice(Math.min(50000, wire.readableBytes())));
        }
        wire.release();
        Pdu big = ch.readInbound();
        assertEquals(9, big.initiatorTaskTag());
        assertTrue(big.content().nioBufferCount() > 1, "a slice of the reads, not a merged copy");
        assertArrayEquals(data, io.netty.buffer.ByteBufUtil.getBytes(big.content()));
        big.release();
        Pdu nop = ch.readInbound();
        assertEquals(10, nop.initiatorTaskTag());
        nop.release();
        assertFalse(ch.finish());
    }

    @Test
    void digestMismatchUnknownOpcodeAndOversizedSegmentAreErrors() {
        PduDecoder decoder = new PduDecoder(8192);
        decoder.digests(true, false);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ByteBuf bad = Unpooled.buffer().writeBytes(targetHeader(Pdu.NOP_IN, 1, 0)).writeInt(0x12345678);
        assertTrue(assertThrows(DecoderException.class, () -> ch.writeInbound(bad)).getMessage().contains("digest"));
        ch.finishAndReleaseAll();

        EmbeddedChannel ch2 = new EmbeddedChannel(new PduDecoder(8192));
        assertTrue(assertThrows(DecoderException.class, () -> ch2.writeInbound(
                Unpooled.wrappedBuffer(targetHeader(0x1c, 1, 0)))).getMessage().contains("unknown iSCSI opcode"));
        ch2.finishAndReleaseAll();

        EmbeddedChannel ch3 = new EmbeddedChannel(new PduDecoder(8192));
        assertTrue(assertThrows(DecoderException.class, () -> ch3.writeInbound(
                Unpooled.wrappedBuffer(targetHeader(Pdu.DATA_IN, 1, 8193)))).getMessage().contains("MaxRecvDataSegmentLength"));
        ch3.finishAndReleaseAll();
    }

    @Test
    void encoderPadsAndDigestsWithoutCopyingData() {
        PduEncoder encoder = new PduEncoder();
        encoder.digests(true, true);
        EmbeddedChannel ch = new EmbeddedChannel(encoder);
        ByteBuf data = Unpooled.directBuffer(6).writeBytes(new byte[] {9, 8, 7, 6, 5, 4});
        Pdu pdu = new Pdu.Header(Pdu.DATA_OUT, false, Pdu.FLAG_FINAL).u32(16, 42).u32(40, 4096).with(data);
        assertTrue(ch.writeOutbound(pdu));
        ByteBuf header = ch.readOutbound();
        ByteBuf payload = ch.readOutbound();
        ByteBuf tail = ch.readOutbound();
        assertEquals(52, header.readableBytes());
        assertEquals(Pdu.DATA_OUT, header.getByte(0));
        assertEquals(6, header.getMedium(5));
        assertEquals(42, header.getInt(16));
        assertEquals(Crc32c.of(header, 0, 48), header.getIntLE(48));
        assertTrue(payload == data || payload.unwrap() == data, "the data segment goes out as is");
        assertEquals(6, tail.readableBytes());
        byte[] padded = {9, 8, 7, 6, 5, 4, 0, 0};
        assertEquals(Crc32c.of(Unpooled.wrappedBuffer(padded)), tail.getIntLE(2));

        // And back: what the encoder wrote, the decoder reads (opcode aside, which a target would send).
        ByteBuf all = Unpooled.buffer().writeBytes(header).writeBytes(payload).writeBytes(tail);
        header.release();
        payload.release();
        tail.release();
        all.setByte(0, Pdu.DATA_IN);
        all.setIntLE(48, Crc32c.of(all, 0, 48));
        PduDecoder decoder = new PduDecoder(8192);
        decoder.digests(true, true);
        EmbeddedChannel in = new EmbeddedChannel(decoder);
        in.writeInbound(all);
        Pdu back = in.readInbound();
        byte[] got = new byte[6];
        back.content().getBytes(back.content().readerIndex(), got);
        assertArrayEquals(new byte[] {9, 8, 7, 6, 5, 4}, got);
        assertEquals(4096, back.intAt(40));
        back.release();
        assertFalse(ch.finish());
        assertFalse(in.finish());
    }

    /** Everything an encoder wrote, as one array (its buffers released). */
    private static byte[] drain(EmbeddedChannel ch) {
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        byte[] bytes = new byte[all.readableBytes()];
        all.readBytes(bytes);
        all.release();
        return bytes;
    }

    @Test
    void dataOutSequenceIsTheSamePdusInOneBuffer() {
        for (boolean digests : new boolean[] {false, true}) {
            for (int length : new int[] {16, 21, 8, 3, PduEncoder.PDUS_PER_BUFFER * 8 + 5, PduEncoder.PDUS_PER_BUFFER * 16}) {
                ByteBuf data = Unpooled.directBuffer(length + 4).writeInt(0x01020304);
                for (int i = 0; i < length; i++) {
                    data.writeByte(i * 7 + 1);
                }
                data.skipBytes(4); // a reader index that is not 0
                int segment = 8;
                long lun = 1L << 48;
                // one Pdu per segment, as the initiator used to send them
                PduEncoder one = new PduEncoder();
                one.digests(digests, digests);
                EmbeddedChannel byPdu = new EmbeddedChannel(one);
                for (int pos = 0, sn = 0; pos < length; pos += segment, sn++) {
                    int n = Math.min(segment, length - pos);
                    byPdu.writeOutbound(new Pdu.Header(Pdu.DATA_OUT, false, pos + n >= length ? Pdu.FLAG_FINAL : 0)
                            .u64(8, lun).u32(16, 5).u32(20, 0x77).u32(28, 9).u32(36, sn).u32(40, 4096 + pos)
                            .with(data.retainedSlice(data.readerIndex() + pos, n)));
                }
                PduEncoder seq = new PduEncoder();
                seq.digests(digests, digests);
                EmbeddedChannel bySequence = new EmbeddedChannel(seq);
                bySequence.writeOutbound(new DataOutSequence(lun, 5, 0x77, 9, 4096, segment, data.retainedSlice()));
                java.util.List<ByteBuf> wire = new java.util.ArrayList<>();
                for (ByteBuf b; (b = bySequence.readOutbound()) != null; ) {
                    wire.add(b);
                }
                int pdus = (length + segment - 1) / segment;
                assertEquals((pdus + PduEncoder.PDUS_PER_BUFFER - 1) / PduEncoder.PDUS_PER_BUFFER, wire.size(),
                        "one buffer per " + PduEncoder.PDUS_PER_BUFFER + " PDUs");
                byte[] expected = drain(byPdu);
                ByteBuf joined = Unpooled.buffer();
                wire.forEach(b -> joined.writeBytes(b, b.readerIndex(), b.readableBytes()));
                byte[] got = new byte[joined.readableBytes()];
                joined.readBytes(got);
                joined.release();
                assertArrayEquals(expected, got, "digests=" + digests + " length=" + length);
                assertTrue(data.refCnt() > 1, "the sequence's wire bytes hold the data");
                wire.forEach(ByteBuf::release);
                assertEquals(1, data.refCnt(), "and give it back when written");
                data.release();
                assertFalse(byPdu.finish());
                assertFalse(bySequence.finish());

                // and the decoder reads the PDUs back, in order
                PduDecoder decoder = new PduDecoder(8192);
                decoder.digests(digests, digests);
                EmbeddedChannel in = new EmbeddedChannel(decoder);
                ByteBuf back = Unpooled.wrappedBuffer(got);
                for (int at = 0; at < back.readableBytes(); ) {
                    back.setByte(at, Pdu.DATA_IN);
                    if (digests) {
                        back.setIntLE(at + 48, Crc32c.of(back, at, 48));
                    }
                    int n = back.getMedium(at + 5);
                    at += 48 + (digests ? 4 : 0) + ((n + 3) & ~3) + (digests ? 4 : 0);
                }
                in.writeInbound(back);
                int pos = 0;
                for (Pdu p; (p = in.readInbound()) != null; ) {
                    assertEquals(4096 + pos, p.intAt(40));
                    assertEquals(pos / segment, p.intAt(36));
                    assertEquals(pos + p.content().readableBytes() >= length, p.isFinal());
                    for (int i = 0; i < p.content().readableBytes(); i++) {
                        assertEquals((byte) ((pos + i) * 7 + 1), p.content().getByte(p.content().readerIndex() + i));
                    }
                    pos += p.content().readableBytes();
                    p.release();
                }
                assertEquals(length, pos);
                assertFalse(in.finish());
            }
        }
    }
}
