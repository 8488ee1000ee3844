package io.nbdvault.transport.nbd;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/** Request header, then the write payload buffer itself (no copy). */
final class RequestEncoder extends MessageToMessageEncoder<ClientRequest> {
    @Override
    protected void encode(ChannelHandlerContext ctx, ClientRequest r, List<Object> out) {
        ByteBuf header = ctx.alloc().buffer(28);
        header.writeInt(Nbd.REQUEST_MAGIC).writeShort(r.flags()).writeShort(r.type()).writeLong(r.cookie())
                .writeLong(r.offset()).writeInt((int) r.length());
        out.add(header);
        if (r.payload() != null) {
            // MessageToMessageEncoder releases the request after encode: the payload goes on with its own reference.
            out.add(r.payload().retain());
        }
    }
}
