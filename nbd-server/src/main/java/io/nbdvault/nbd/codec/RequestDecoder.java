package io.nbdvault.nbd.codec;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;

/**
 * Transmission-phase requests: a 28-byte header, plus the payload of a WRITE. A WRITE longer than
 * {@link Nbd#MAX_PAYLOAD} is not buffered: its payload is skipped and the request is passed on
 * marked oversized, so the connection survives and the client gets an error for that request alone.
 * A large payload is a slice of the reads it arrived in, not a copy ({@link PayloadCumulator}).
 * A wrong request magic ends the connection: nothing after it can be framed.
 */
public final class RequestDecoder extends FramingDecoder {
    private static final int HEADER = 28;
    private final PayloadCumulator payloads = new PayloadCumulator();
    private long discarding;

    public RequestDecoder() {
        setCumulator(payloads);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (discarding > 0) {
            int n = (int) Math.min(discarding, in.readableBytes());
            in.skipBytes(n);
            discarding -= n;
            return;
        }
        if (in.readableBytes() < HEADER) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != Nbd.REQUEST_MAGIC) {
            throw new NbdProtocolException(String.format("bad request magic 0x%08x", magic));
        }
        int flags = in.getUnsignedShort(start + 4);
        int type = in.getUnsignedShort(start + 6);
        long cookie = in.getLong(start + 8);
        long offset = in.getLong(start + 16);
        long length = in.getUnsignedInt(start + 24);
        if (type != Nbd.CMD_WRITE) {
            in.skipBytes(HEADER);
            out.add(new NbdRequest(flags, type, cookie, offset, length, null, false));
            return;
        }
        if (length > Nbd.MAX_PAYLOAD) {
            in.skipBytes(HEADER);
            discarding = length;
            out.add(new NbdRequest(flags, type, cookie, offset, length, null, true));
            return;
        }
        if (in.readableBytes() < HEADER + length) {
            payloads.awaiting(length);
            return;
        }
        payloads.awaiting(0);
        in.skipBytes(HEADER);
        ByteBuf payload = in.readRetainedSlice((int) length);
        out.add(new NbdRequest(flags, type, cookie, offset, length, payload, false));
    }
}
