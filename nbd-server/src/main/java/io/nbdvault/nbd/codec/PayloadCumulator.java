package io.nbdvault.nbd.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * How a decoder of framed messages (NBD requests and replies, iSCSI PDUs) keeps the bytes it has
 * not framed yet. Netty's default merges every read into one growing buffer: a 1 MiB payload
 * arriving in 64 KiB reads is copied once into the buffer and about once more as the buffer
 * doubles, about 2 MiB of memory copies per MiB that a write or a replica's read reply carries
 * (8–13 % of the server's CPU on 1 MiB requests). While the decoder waits for a large payload this
 * gathers the reads into a composite buffer instead, so the payload is a slice of the reads
 * themselves and nothing is copied; the layers above encrypt, decrypt and tag such a buffer where
 * it lies. Small messages are merged as before: for them a composite's bookkeeping costs more than
 * the copy.
 *
 * <p>A gathered read keeps its whole receive buffer alive, however few bytes it brought. A peer
 * that sends a payload in tiny pieces would so pin far more memory than the payload's size; once
 * the buffers held pass twice the bytes in them (plus 256 KiB), the payload is merged after all,
 * into one buffer sized for what is still to come.
 *
 * <p>Threads: the decoder's event loop only, like the decoder.
 */
public final class PayloadCumulator implements ByteToMessageDecoder.Cumulator {
    /** Payloads from this size on are gathered, not merged. */
    public static final int LARGE = 32 * 1024;
    private static final int SLACK = 256 * 1024;

    private long awaited;
    /** This payload came in too small pieces: merge the rest of it. */
    private boolean merging;
    /** Capacity of the receive buffers the composite holds for this payload, and the bytes in them. */
    private long pinned;
    private long held;

    /**
     * Says what the decoder is waiting for: a payload of {@code bytes} bytes that has not fully
     * arrived, or 0 once it has framed its message.
     */
    public void awaiting(long bytes) {
        awaited = bytes;
        if (bytes == 0) {
            merging = false;
            pinned = 0;
            held = 0;
        }
    }

    @Override
    public ByteBuf cumulate(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in) {
        if (awaited >= LARGE && !merging) {
            if (pinned == 0) {
                // What came before this payload's first gathered read counts at its size: its
                // buffer may be one still shared with earlier messages' slices.
                pinned = cumulation.readableBytes();
                held = pinned;
            }
            pinned += in.capacity();
            held += in.readableBytes();
            if (pinned <= 2 * held + SLACK) {
                return ByteToMessageDecoder.COMPOSITE_CUMULATOR.cumulate(alloc, cumulation, in);
            }
            merging = true;
            return merge(alloc, cumulation, in, awaited);
        }
        if (cumulation instanceof CompositeByteBuf && cumulation.isReadable()) {
            // The tail of a read that ended a gathered payload: merge it into a plain buffer again.
            return merge(alloc, cumulation, in, 0);
        }
        return ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(alloc, cumulation, in);
    }

    /** One plain buffer with both, room for {@code room} bytes in all; takes over both. */
    private static ByteBuf merge(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in, long room) {
        try {
            int bytes = cumulation.readableBytes() + in.readableBytes();
            ByteBuf merged = alloc.buffer((int) Math.max(bytes, Math.min(room, Integer.MAX_VALUE - 4096) + 4096));
            return merged.writeBytes(cumulation).writeBytes(in);
        } finally {
            cumulation.release();
            in.release();
        }
    }
}
