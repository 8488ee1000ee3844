package io.nbdvault.nbd.codec;

import io.netty.buffer.ByteBuf;

/** A simple reply: error (0 = success) and cookie, followed by {@code data} for a successful READ (else null). */
public record SimpleReply(int error, long cookie, ByteBuf data) implements io.nbdvault.core.OwnsBuffers {
    @Override
    public ByteBuf[] buffers() {
        return new ByteBuf[] {data};
    }
}
