package io.nbdvault.nbd.codec;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * Encodes everything the server sends. Bulk data (READ payloads) is not copied: the header goes out
 * as its own small buffer followed by the data buffer itself.
 */
public final class ServerEncoder extends MessageToMessageEncoder<Object> {

    @Override
    public boolean acceptOutboundMessage(Object msg) {
        return msg instanceof ServerGreeting || msg instanceof OptionReply || msg instanceof ExportNameReply
                || msg instanceof SimpleReply || msg instanceof StructuredChunk;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) {
        if (msg instanceof SimpleReply reply) {
            ByteBuf header = ctx.alloc().buffer(16);
            header.writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(reply.error()).writeLong(reply.cookie());
            out.add(header);
            if (reply.data() != null) {
                // The encoder releases the reply once encoded; the data goes on with its own reference.
                out.add(reply.data().retain());
            }
        } else if (msg instanceof StructuredChunk chunk) {
            int headLength = chunk.head() == null ? 0 : chunk.head().readableBytes();
            int dataLength = chunk.data() == null ? 0 : chunk.data().readableBytes();
            ByteBuf header = ctx.alloc().buffer(20 + headLength);
            header.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(chunk.flags()).writeShort(chunk.type())
                    .writeLong(chunk.cookie()).writeInt(headLength + dataLength);
            if (chunk.head() != null) {
                header.writeBytes(chunk.head(), chunk.head().readerIndex(), headLength);
            }
            out.add(header);
            if (chunk.data() != null) {
                out.add(chunk.data().retain());
            }
        } else if (msg instanceof OptionReply reply) {
            ByteBuf buf = ctx.alloc().buffer(20 + reply.data().length);
            buf.writeLong(Nbd.OPTION_REPLY_MAGIC).writeInt(reply.option()).writeInt(reply.type())
                    .writeInt(reply.data().length).writeBytes(reply.data());
            out.add(buf);
        } else if (msg instanceof ExportNameReply reply) {
            ByteBuf buf = ctx.alloc().buffer(134);
            buf.writeLong(reply.size()).writeShort(reply.transmissionFlags());
            if (!reply.noZeroes()) {
                buf.writeZero(124);
            }
            out.add(buf);
        } else if (msg instanceof ServerGreeting greeting) {
            ByteBuf buf = ctx.alloc().buffer(18);
            buf.writeLong(Nbd.NBDMAGIC).writeLong(Nbd.IHAVEOPT).writeShort(greeting.handshakeFlags());
            out.add(buf);
        }
    }
}
