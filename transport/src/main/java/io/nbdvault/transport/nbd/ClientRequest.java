package io.nbdvault.transport.nbd;

import io.netty.buffer.ByteBuf;

/** A request on its way to the server; {@code payload} only for WRITE (sent as is, not copied). */
record ClientRequest(int flags, int type, long cookie, long offset, long length, ByteBuf payload) {
}
