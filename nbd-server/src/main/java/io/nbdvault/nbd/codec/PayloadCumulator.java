package io.nbdvault.nbd.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * How a decoder of NBD messages keeps the bytes it has not framed yet. Netty's default merges every
 * read into one growing buffer: a 1 MiB payload arriving in 64 KiB reads is copied once into the
 * buffer and about once more as the buffer doubles, about 2 MiB of memory copies per MiB that a
 * write or a replica's read reply carries (8–13 % of the server's CPU on 1 MiB requests). While
 * the decoder waits for a large payload this gathers the reads into a composite buffer instead,
 * so the payload is a slice of the reads themselves and nothing is copied; the layers above
 * encrypt, decrypt and tag such a buffer where it lies. Small messages are merged as before: for
 * them a composite's bookkeeping costs more than the copy.
 *
 * <p>Threads: the decoder's event loop only, like the decoder.
 */
public final class PayloadCumulator implements ByteToMessageDecoder.Cumulator {
    /** Payloads from this size on are gathered, not merged. */
    public static final int LARGE = 32 * 1024;

    private boolean gathering;

    /**
     * Says what the decoder is waiting for: a payload of {@code bytes} bytes that has not fully
     * arrived, or 0 once it has framed its message.
     */
    public void awaiting(long bytes) {
        gathering = bytes >= LARGE;
    }

    @Override
    public ByteBuf cumulate(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in) {
        if (gathering) {
            return ByteToMessageDecoder.COMPOSITE_CUMULATOR.cumulate(alloc, cumulation, in);
        }
        if (cumulation instanceof CompositeByteBuf && cumulation.isReadable()) {
            // The tail of a read that ended a gathered payload: merge it into a plain buffer again.
            try {
                ByteBuf merged = alloc.buffer(cumulation.readableBytes() + in.readableBytes());
                return merged.writeBytes(cumulation).writeBytes(in);
            } finally {
                cumulation.release();
                in.release();
            }
        }
        return ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(alloc, cumulation, in);
    }
}
