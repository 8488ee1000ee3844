package io.nbdvault.nbd.codec;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;

/**
 * The base of nbdvault's decoders of framed messages (NBD handshakes, requests and replies, iSCSI
 * PDUs): a {@link ByteToMessageDecoder} that drops a read arriving once its channel is closed. Should
 * a receive complete after the close, channelInactive has already released what the decoder held:
 * cumulated then, its bytes would never be framed nor released. A guard: the leak CI caught in the
 * iSCSI decoder, first blamed on this, came from connections closed by their loops' own shutdown
 * ({@code OrderlyShutdown} prevents that).
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
