package io.nbdvault.transport.nbd;

import io.nbdvault.core.Errno;
import io.nbdvault.nbd.codec.NbdProtocolException;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;


/**
 * Builds one request's answer from the chunks of a structured reply: OFFSET_DATA pieces are put
 * in place, OFFSET_HOLE ranges read as zeros, an ERROR chunk fails the request. A read answered by
 * one data chunk covering all of it keeps that chunk's buffer (no copy). Chunks outside the
 * request, or of a type a read cannot have, are a protocol error: the connection is dropped.
 */
final class ReadAssembly {
    private final long offset;
    private final int length;
    private ByteBuf data;
    /** {@code data} is our own zeroed whole-request buffer (not a single chunk kept as it came). */
    private boolean assembled;
    private int error;

    ReadAssembly(long offset, int length) {
        this.offset = offset;
        this.length = length;
    }

    void add(ReplyChunk chunk, ByteBufAllocator alloc) {
        ByteBuf p = chunk.payload();
        switch (chunk.type()) {
            case Nbd.REPLY_TYPE_NONE -> {
                if (p.isReadable()) {
                    throw new NbdProtocolException("NONE reply chunk with a payload");
                }
            }
            case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                int at = position(p.readLong(), p.readableBytes());
                if (at == 0 && p.readableBytes() == length && data == null && !assembled) {
                    data = p.retainedSlice();
                } else {
                    target(alloc).setBytes(at, p, p.readerIndex(), p.readableBytes());
                }
            }
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                long start = p.readLong();
                long holeLength = p.readUnsignedInt();
                target(alloc).setZero(position(start, holeLength), (int) holeLength);
            }
            default -> {
                if ((chunk.type() & (1 << 15)) == 0) {
                    throw new NbdProtocolException("unexpected reply chunk type " + chunk.type() + " for a request");
                }
                // The server's message (after the errno) is not kept: the errno is what the caller acts on.
                int errno = p.readableBytes() >= 4 ? p.readInt() : Errno.EIO.nbdValue();
                error = errno == 0 ? Errno.EIO.nbdValue() : errno;
            }
        }
    }

    private int position(long chunkOffset, long chunkLength) {
        long at = chunkOffset - offset;
        if (at < 0 || chunkLength < 0 || at + chunkLength > length) {
            throw new NbdProtocolException("reply chunk " + chunkOffset + "+" + chunkLength + " lies outside the request "
                    + offset + "+" + length);
        }
        return (int) at;
    }

    /** The whole-request buffer, created zeroed on first need (taking in a single chunk kept so far). */
    private ByteBuf target(ByteBufAllocator alloc) {
        if (!assembled) {
            ByteBuf whole = alloc.buffer(length, length);
            whole.setZero(0, length).writerIndex(length);
            if (data != null) {
                whole.setBytes(0, data, data.readerIndex(), data.readableBytes());
                data.release();
            }
            data = whole;
            assembled = true;
        }
        return data;
    }

    /** The reply this request gets once the last chunk arrived; the assembly gives up its buffer. */
    ClientReply finish(long cookie) {
        if (error != 0) {
            if (data != null) {
                data.release();
            }
            return new ClientReply(error, cookie, null);
        }
        ByteBuf out = data;
        if (out == null && length > 0) {
            throw new NbdProtocolException("structured reply ended without the data of a " + length + "-byte read");
        }
        data = null;
        return new ClientReply(0, cookie, out);
    }

    void discard() {
        if (data != null) {
            data.release();
            data = null;
        }
    }
}
