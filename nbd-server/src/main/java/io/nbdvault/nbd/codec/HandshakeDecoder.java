package io.nbdvault.nbd.codec;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;

/**
 * Server side of the newstyle handshake: the client's 32-bit flags, then options
 * ({@code IHAVEOPT}, option number, length, payload). A wrong magic or an option longer than
 * {@link Nbd#MAX_OPTION_LENGTH} means the stream cannot be trusted and ends the connection.
 */
public final class HandshakeDecoder extends FramingDecoder {
    private static final int OPTION_HEADER = 16;
    private boolean clientFlagsRead;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!clientFlagsRead) {
            if (in.readableBytes() < 4) {
                return;
            }
            clientFlagsRead = true;
            out.add(new ClientFlags(in.readInt()));
            return;
        }
        if (in.readableBytes() < OPTION_HEADER) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != Nbd.IHAVEOPT) {
            throw new NbdProtocolException(String.format("bad option magic 0x%016x", magic));
        }
        int option = in.getInt(start + 8);
        long length = in.getUnsignedInt(start + 12);
        if (length > Nbd.MAX_OPTION_LENGTH) {
            throw new NbdProtocolException("option " + option + " has length " + length + ", over the limit of "
                    + Nbd.MAX_OPTION_LENGTH);
        }
        if (in.readableBytes() < OPTION_HEADER + length) {
            return;
        }
        in.skipBytes(OPTION_HEADER);
        byte[] data = new byte[(int) length];
        in.readBytes(data);
        out.add(new NbdOption(option, data));
    }
}
