package io.nbdvault.transport.nbd;

import io.nbdvault.nbd.codec.FramingDecoder;
import io.nbdvault.nbd.codec.NbdProtocolException;
import io.nbdvault.nbd.codec.PayloadCumulator;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;
import java.util.function.LongToIntFunction;

/**
 * Simple replies and structured reply chunks. How many data bytes follow a simple reply depends on
 * the request it answers, so the decoder asks: {@code readLength} maps a cookie to the length of
 * the READ it belongs to (or -1 for an unknown cookie, which means the server is confused and the
 * connection is dropped). A structured chunk carries its own length, checked against the same.
 * Read data is a slice of the reads it arrived in, not a copy, when large ({@link PayloadCumulator}).
 */
final class ReplyDecoder extends FramingDecoder {
    private static final long MAX_ERROR_CHUNK = 4 + 2 + 4096 + 8;
    private final LongToIntFunction readLength;
    private final PayloadCumulator payloads = new PayloadCumulator();

    ReplyDecoder(LongToIntFunction readLength) {
        this.readLength = readLength;
        setCumulator(payloads);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 16) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic == Nbd.STRUCTURED_REPLY_MAGIC) {
            decodeChunk(in, start, out);
            return;
        }
        if (magic != Nbd.SIMPLE_REPLY_MAGIC) {
            throw new NbdProtocolException(String.format("unexpected reply magic 0x%08x", magic));
        }
        int error = in.getInt(start + 4);
        long cookie = in.getLong(start + 8);
        int length = readLength.applyAsInt(cookie);
        if (length < 0) {
            throw new NbdProtocolException("reply for unknown cookie " + cookie);
        }
        int data = error == 0 ? length : 0;
        if (in.readableBytes() < 16 + data) {
            payloads.awaiting(data);
            return;
        }
        payloads.awaiting(0);
        in.skipBytes(16);
        out.add(new ClientReply(error, cookie, data > 0 ? in.readRetainedSlice(data) : null));
    }

    private void decodeChunk(ByteBuf in, int start, List<Object> out) {
        if (in.readableBytes() < 20) {
            return;
        }
        int flags = in.getUnsignedShort(start + 4);
        int type = in.getUnsignedShort(start + 6);
        long cookie = in.getLong(start + 8);
        long length = in.getUnsignedInt(start + 16);
        int expected = readLength.applyAsInt(cookie);
        if (expected < 0) {
            throw new NbdProtocolException("reply chunk for unknown cookie " + cookie);
        }
        // A data chunk holds at most the read plus its offset; an error chunk a message of at most 4 KiB.
        if (length > Math.max(expected + 8L, MAX_ERROR_CHUNK)) {
            throw new NbdProtocolException("reply chunk of " + length + " bytes for a request of " + expected);
        }
        if (in.readableBytes() < 20 + length) {
            payloads.awaiting(length);
            return;
        }
        payloads.awaiting(0);
        in.skipBytes(20);
        out.add(new ReplyChunk(cookie, flags, type, in.readRetainedSlice((int) length)));
    }
}
