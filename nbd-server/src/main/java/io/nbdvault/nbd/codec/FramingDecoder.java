package io.nbdvault.nbd.codec;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;

/**
 * The base of nbdvault's decoders of framed messages (NBD handshakes, requests and replies, iSCSI
 * PDUs): a {@link ByteToMessageDecoder} that drops a read arriving once its channel is closed. On
 * io_uring a receive already in flight can complete after the close, when channelInactive has
 * already released what the decoder held: cumulated then, its bytes would never be framed nor
 * released (CI's leak detector once caught one such buffer after a hostile iSCSI target's
 * connection was closed).
 */
public abstract class FramingDecoder extends ByteToMessageDecoder {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!ctx.channel().isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        super.channelRead(ctx, msg);
    }
}
