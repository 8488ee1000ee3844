package io.nbdvault.transport.nbd;

import io.netty.buffer.ByteBuf;

/** One chunk of a structured reply; {@code payload} is owned by whoever consumes the chunk. */
record ReplyChunk(long cookie, int flags, int type, ByteBuf payload) {
    boolean done() {
        return (flags & io.nbdvault.nbd.protocol.Nbd.REPLY_FLAG_DONE) != 0;
    }
}
