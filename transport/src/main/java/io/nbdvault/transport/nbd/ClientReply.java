package io.nbdvault.transport.nbd;

import io.netty.buffer.ByteBuf;

/** A simple reply from the server; {@code data} holds a successful READ's bytes. */
record ClientReply(int error, long cookie, ByteBuf data) {
}
