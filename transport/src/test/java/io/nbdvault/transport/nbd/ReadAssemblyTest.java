package io.nbdvault.transport.nbd;

import io.nbdvault.nbd.codec.NbdProtocolException;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structured reply chunks, decoded from the wire and assembled into a read. */
class ReadAssemblyTest {
    static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    static ByteBuf chunk(int flags, int type, long cookie, ByteBuf payload) {
        return Unpooled.buffer().writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie)
                .writeInt(payload.readableBytes()).writeBytes(payload);
    }

    static ReplyChunk decoded(EmbeddedChannel ch, ByteBuf wire) {
        ch.writeInbound(wire);
        return ch.readInbound();
    }

    @Test
    void dataAndHolesInAnyOrderMakeTheRead() {
        EmbeddedChannel ch = new EmbeddedChannel(new ReplyDecoder(cookie -> cookie == 7 ? 12 : -1));
        ReadAssembly read = new ReadAssembly(1000, 12);
        ReplyChunk tail = decoded(ch, chunk(0, Nbd.REPLY_TYPE_OFFSET_DATA, 7,
                Unpooled.buffer().writeLong(1008).writeBytes(new byte[] {5, 6, 7, 8})));
        ReplyChunk hole = decoded(ch, chunk(0, Nbd.REPLY_TYPE_OFFSET_HOLE, 7, Unpooled.buffer().writeLong(1004).writeInt(4)));
        ReplyChunk head = decoded(ch, chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 7,
                Unpooled.buffer().writeLong(1000).writeBytes(new byte[] {1, 2, 3, 4})));
        for (ReplyChunk c : new ReplyChunk[] {tail, hole, head}) {
            read.add(c, ALLOC);
            c.payload().release();
        }
        assertTrue(head.done());
        ClientReply reply = read.finish(7);
        assertEquals(0, reply.error());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8}, ByteBufUtil.getBytes(reply.data()));
        reply.data().release();
    }

    /** Large read data arriving in many socket reads is a slice of those reads, for simple replies and chunks alike. */
    @Test
    void largeReadDataIsGatheredNotCopied() {
        byte[] data = new byte[512 * 1024];
        new java.util.Random(8).nextBytes(data);
        EmbeddedChannel ch = new EmbeddedChannel(new ReplyDecoder(cookie -> cookie == 1 || cookie == 2 ? data.length : 4));
        ByteBuf stream = Unpooled.buffer().writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(1).writeBytes(data)
                .writeBytes(chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, 2,
                        Unpooled.buffer().writeLong(0).writeBytes(data)))
                .writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(3).writeInt(99);
        while (stream.isReadable()) {
            ch.writeInbound(stream.readRetainedSlice(Math.min(60000, stream.readableBytes())));
        }
        stream.release();
        ClientReply simple = ch.readInbound();
        assertTrue(simple.data().nioBufferCount() > 1, "a slice of the reads, not a merged copy");
        assertArrayEquals(data, ByteBufUtil.getBytes(simple.data()));
        simple.data().release();
        ReplyChunk chunk = ch.readInbound();
        assertTrue(chunk.payload().nioBufferCount() > 1);
        assertArrayEquals(data, ByteBufUtil.getBytes(chunk.payload(), chunk.payload().readerIndex() + 8, data.length));
        chunk.payload().release();
        ClientReply small = ch.readInbound();
        assertEquals(3, small.cookie());
        assertEquals(99, small.data().getInt(small.data().readerIndex()));
        small.data().release();
        assertNull(ch.readInbound());
    }

    @Test
    void oneChunkCoveringTheReadIsKeptWithoutCopying() {
        ReadAssembly read = new ReadAssembly(0, 4);
        ByteBuf payload = Unpooled.buffer().writeLong(0).writeBytes(new byte[] {9, 9, 9, 9});
        read.add(new ReplyChunk(1, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, payload), ALLOC);
        ClientReply reply = read.finish(1);
        assertSame(payload, reply.data().unwrap(), "a slice of the chunk, not a copy");
        payload.release();
        reply.data().release();
    }

    @Test
    void anErrorChunkFailsTheRequestAndBadChunksAreProtocolErrors() {
        ReadAssembly read = new ReadAssembly(0, 4096);
        ByteBuf error = Unpooled.buffer().writeInt(28).writeShort(5).writeBytes("nope!".getBytes());
        read.add(new ReplyChunk(2, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, error), ALLOC);
        ClientReply reply = read.finish(2);
        assertEquals(28, reply.error());
        assertNull(reply.data());

        ReadAssembly outside = new ReadAssembly(4096, 512);
        assertThrows(NbdProtocolException.class, () -> outside.add(new ReplyChunk(3, 0, Nbd.REPLY_TYPE_OFFSET_DATA,
                Unpooled.buffer().writeLong(4096 + 500).writeBytes(new byte[16])), ALLOC));
        assertThrows(NbdProtocolException.class, () -> new ReadAssembly(0, 8).add(new ReplyChunk(3, 0,
                Nbd.REPLY_TYPE_BLOCK_STATUS, Unpooled.buffer().writeInt(1)), ALLOC));
        assertThrows(NbdProtocolException.class, () -> new ReadAssembly(0, 8).finish(3),
                "a read that ends without its data");

        EmbeddedChannel ch = new EmbeddedChannel(new ReplyDecoder(cookie -> 16));
        assertThrows(io.netty.handler.codec.DecoderException.class, () -> ch.writeInbound(
                Unpooled.buffer().writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(0).writeShort(1).writeLong(1)
                        .writeInt(1 << 20)), "a chunk far longer than its read is refused before it is buffered");
    }
}
