package io.nbdvault.nbd.codec;

import io.netty.buffer.ByteBuf;

/**
 * One structured reply chunk. {@code head} is the type-specific fixed part (offset, error header, context id…)
 * and {@code data} optional bulk data that follows it (READ payload); both are released by the encoder.
 */
public record StructuredChunk(int flags, int type, long cookie, ByteBuf head, ByteBuf data) implements io.nbdvault.core.OwnsBuffers {
    @Override
    public ByteBuf[] buffers() {
        return new ByteBuf[] {head, data};
    }
}
