package io.nbdvault.transport.nbd;

import io.nbdvault.core.OwnsBuffers;
import io.netty.buffer.ByteBuf;

/**
 * A request on its way to the server; {@code payload} only for WRITE (sent as is, not copied).
 * It owns the payload, so the pipeline releases it when the request cannot be written.
 */
record ClientRequest(int flags, int type, long cookie, long offset, long length, ByteBuf payload) implements OwnsBuffers {
    @Override
    public ByteBuf[] buffers() {
        return new ByteBuf[] {payload};
    }
}
