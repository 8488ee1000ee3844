package io.nbdvault.nbd.codec;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The codecs alone, fed byte buffers: no socket, no device. */
class CodecTest {

    /** A read completing after the close (io_uring can deliver one) is released, not cumulated for ever (FramingDecoder). */
    @Test
    void aRequestReadAfterTheChannelClosedIsReleased() throws Exception {
        RequestDecoder decoder = new RequestDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        io.netty.channel.ChannelHandlerContext ctx = ch.pipeline().context(decoder);
        ch.close().sync();
        ByteBuf late = Unpooled.directBuffer(20).writeZero(20); // part of a request header: the decoder would wait for more
        decoder.channelRead(ctx, late);
        assertEquals(0, late.refCnt());
        assertFalse(ch.finish());
    }

    @Test
    void handshakeDecoderWaitsForWholeOptionsEvenWhenSplitByteByByte() {
        EmbeddedChannel ch = new EmbeddedChannel(new HandshakeDecoder());
        ByteBuf bytes = Unpooled.buffer().writeInt(3).writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_LIST).writeInt(2)
                .writeShort(0xabcd);
        while (bytes.isReadable()) {
            ch.writeInbound(bytes.readRetainedSlice(1));
        }
        assertEquals(new ClientFlags(3), ch.readInbound());
        NbdOption option = ch.readInbound();
        assertEquals(Nbd.OPT_LIST, option.option());
        assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xcd}, option.data());
        assertNull(ch.readInbound());
    }

    @Test
    void handshakeDecoderRejectsBadMagicAndHugeOptions() {
        EmbeddedChannel bad = new EmbeddedChannel(new HandshakeDecoder());
        bad.writeInbound(Unpooled.buffer().writeInt(1));
        var e = assertThrows(DecoderException.class,
                () -> bad.writeInbound(Unpooled.buffer().writeLong(42).writeInt(1).writeInt(0)));
        assertInstanceOf(NbdProtocolException.class, e.getCause());

        EmbeddedChannel huge = new EmbeddedChannel(new HandshakeDecoder());
        huge.writeInbound(Unpooled.buffer().writeInt(1));
        assertThrows(DecoderException.class, () -> huge.writeInbound(
                Unpooled.buffer().writeLong(Nbd.IHAVEOPT).writeInt(1).writeInt(Nbd.MAX_OPTION_LENGTH + 1)));
    }

    @Test
    void requestDecoderFramesWritesWithTheirPayload() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ch.writeInbound(request(Nbd.CMD_WRITE, 1, 7, 4096, 3).writeBytes(new byte[] {1, 2, 3}));
        ch.writeInbound(request(Nbd.CMD_READ, 0, 8, 0, 512));
        NbdRequest write = ch.readInbound();
        assertEquals(Nbd.CMD_WRITE, write.type());
        assertEquals(Nbd.CMD_FLAG_FUA, write.flags());
        assertEquals(7, write.cookie());
        assertEquals(4096, write.offset());
        assertEquals(3, write.payload().readableBytes());
        assertEquals(2, write.payload().getByte(1));
        write.release();
        NbdRequest read = ch.readInbound();
        assertEquals(Nbd.CMD_READ, read.type());
        assertNull(read.payload());
        assertEquals(512, read.length());
    }

    /**
     * A large payload arriving in many reads is framed as a slice of those reads, not copied into
     * one buffer; small requests around it, and one whose header shares a read with the end of the
     * large payload, are framed as before.
     */
    @Test
    void requestDecoderGathersALargePayloadWithoutCopyingIt() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        byte[] big = new byte[1 << 20];
        new java.util.Random(3).nextBytes(big);
        ch.writeInbound(request(Nbd.CMD_WRITE, 0, 1, 0, 8).writeLong(42));
        ByteBuf stream = request(Nbd.CMD_WRITE, 0, 2, 4096, big.length).writeBytes(big)
                .writeBytes(request(Nbd.CMD_WRITE, 0, 3, 0, 4)).writeInt(7).writeBytes(request(Nbd.CMD_FLUSH, 0, 4, 0, 0));
        while (stream.isReadable()) {
            ch.writeInbound(stream.readRetainedSlice(Math.min(65536 - 5, stream.readableBytes())));
        }
        stream.release();
        NbdRequest small = ch.readInbound();
        assertEquals(42, small.payload().getLong(0));
        small.release();
        NbdRequest large = ch.readInbound();
        assertEquals(2, large.cookie());
        assertTrue(large.payload().nioBufferCount() > 1, "a slice of the reads, not a merged copy");
        assertArrayEquals(big, ByteBufUtil.getBytes(large.payload()));
        large.release();
        NbdRequest after = ch.readInbound();
        assertEquals(3, after.cookie());
        assertEquals(7, after.payload().getInt(after.payload().readerIndex()));
        after.release();
        NbdRequest flush = ch.readInbound();
        assertEquals(4, flush.cookie());
        assertNull(ch.readInbound());
        assertFalse(ch.finish());
    }

    /**
     * A payload sent in tiny pieces, each arriving in a large receive buffer, is merged after all:
     * gathered, every piece would keep its whole buffer alive (here 64 KiB for every 100 bytes).
     */
    @Test
    void requestDecoderMergesAPayloadThatComesInTinyPieces() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        byte[] big = new byte[256 * 1024];
        new java.util.Random(5).nextBytes(big);
        ByteBuf stream = request(Nbd.CMD_WRITE, 0, 1, 0, big.length).writeBytes(big).writeBytes(request(Nbd.CMD_FLUSH, 0, 2, 0, 0));
        while (stream.isReadable()) {
            int n = Math.min(100, stream.readableBytes());
            ch.writeInbound(Unpooled.directBuffer(65536).writeBytes(stream, n));
        }
        stream.release();
        NbdRequest write = ch.readInbound();
        assertEquals(1, write.payload().nioBufferCount(), "merged into one buffer");
        assertArrayEquals(big, ByteBufUtil.getBytes(write.payload()));
        write.release();
        NbdRequest flush = ch.readInbound();
        assertEquals(2, flush.cookie());
        assertFalse(ch.finish());
    }

    @Test
    void requestDecoderSkipsOversizedPayloadsAndStaysInStep() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        int big = Nbd.MAX_PAYLOAD + 1;
        ch.writeInbound(request(Nbd.CMD_WRITE, 0, 1, 0, big));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[big]));
        ch.writeInbound(request(Nbd.CMD_FLUSH, 0, 2, 0, 0));
        NbdRequest oversized = ch.readInbound();
        assertTrue(oversized.oversized());
        assertNull(oversized.payload());
        NbdRequest flush = ch.readInbound();
        assertEquals(2, flush.cookie());
    }

    @Test
    void requestLengthIsUnsigned() {
        EmbeddedChannel ch = new EmbeddedChannel(new RequestDecoder());
        ch.writeInbound(request(Nbd.CMD_TRIM, 0, 1, 0, -1));
        NbdRequest trim = ch.readInbound();
        assertEquals(0xffffffffL, trim.length());
    }

    @Test
    void encoderWritesReplyHeadersAndPassesDataThroughUncopied() {
        EmbeddedChannel ch = new EmbeddedChannel(new ServerEncoder());
        ByteBuf data = Unpooled.wrappedBuffer(new byte[] {9, 9});
        ch.writeOutbound(new SimpleReply(0, 5, data));
        ByteBuf header = ch.readOutbound();
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, header.readInt());
        assertEquals(0, header.readInt());
        assertEquals(5, header.readLong());
        header.release();
        ByteBuf sent = ch.readOutbound();
        assertTrue(data == sent, "read data is sent as the same buffer");
        assertEquals(1, sent.refCnt(), "the reply's reference went on with the data");
        sent.release();

        ch.writeOutbound(new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 6,
                Unpooled.buffer().writeLong(4096), Unpooled.wrappedBuffer(new byte[10])));
        ByteBuf chunk = ch.readOutbound();
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, chunk.readInt());
        assertEquals(Nbd.REPLY_FLAG_DONE, chunk.readShort());
        assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, chunk.readShort());
        assertEquals(6, chunk.readLong());
        assertEquals(18, chunk.readInt());
        assertEquals(4096, chunk.readLong());
        chunk.release();
        ByteBuf payload = ch.readOutbound();
        assertEquals(10, payload.readableBytes());
        payload.release();

        ch.writeOutbound(new ExportNameReply(1 << 20, (short) 3, false));
        ByteBuf old = ch.readOutbound();
        assertEquals(134, old.readableBytes());
        old.release();
        ch.writeOutbound(new ExportNameReply(1 << 20, (short) 3, true));
        ByteBuf noZeroes = ch.readOutbound();
        assertEquals(10, noZeroes.readableBytes());
        noZeroes.release();
    }

    @Test
    void aReplyThatCannotBeSentReleasesItsBuffers() {
        EmbeddedChannel ch = new EmbeddedChannel(new ServerEncoder());
        ch.close();
        ByteBuf head = Unpooled.directBuffer(8).writeLong(0);
        ByteBuf data = Unpooled.directBuffer(4).writeInt(1);
        io.netty.channel.ChannelFuture sent = ch.writeAndFlush(
                new StructuredChunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 7, head, data));
        assertTrue(!sent.isSuccess(), "nothing can be written to a closed channel");
        assertEquals(0, head.refCnt());
        assertEquals(0, data.refCnt());
    }

    static ByteBuf request(int type, int flags, long cookie, long offset, int length) {
        return Unpooled.buffer().writeInt(Nbd.REQUEST_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie)
                .writeLong(offset).writeInt(length);
    }
}
