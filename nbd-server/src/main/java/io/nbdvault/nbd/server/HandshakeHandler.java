package io.nbdvault.nbd.server;

import io.nbdvault.nbd.codec.ClientFlags;
import io.nbdvault.nbd.codec.ExportNameReply;
import io.nbdvault.nbd.codec.NbdOption;
import io.nbdvault.nbd.codec.OptionReply;
import io.nbdvault.nbd.codec.RequestDecoder;
import io.nbdvault.nbd.codec.ServerGreeting;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The option haggling of the fixed newstyle handshake. Once the client picks an export (GO or
 * EXPORT_NAME) this handler swaps the pipeline to the transmission phase and leaves.
 */
final class HandshakeHandler extends SimpleChannelInboundHandler<Object> {
    private static final Logger LOG = Logger.getLogger(HandshakeHandler.class.getName());
    private static final int KNOWN_CLIENT_FLAGS = Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES;

    private final Exports exports;
    private final SslContext sslContext;
    private final TlsMode tlsMode;
    private final long handshakeTimeoutMillis;
    private final ServerConnections connections;
    private final Session session = new Session();
    private ScheduledFuture<?> timeout;

    HandshakeHandler(Exports exports, SslContext sslContext, TlsMode tlsMode, long handshakeTimeoutMillis,
                     ServerConnections connections) {
        this.exports = exports;
        this.sslContext = sslContext;
        this.tlsMode = tlsMode;
        this.handshakeTimeoutMillis = handshakeTimeoutMillis;
        this.connections = connections;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        timeout = ctx.executor().schedule(() -> {
            LOG.fine(() -> "handshake timed out: " + ctx.channel().remoteAddress());
            ctx.close();
        }, handshakeTimeoutMillis, TimeUnit.MILLISECONDS);
        ctx.writeAndFlush(new ServerGreeting((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)));
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimeout();
        ctx.fireChannelInactive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ClientFlags flags) {
            onClientFlags(ctx, flags.flags());
        } else if (msg instanceof NbdOption option) {
            onOption(ctx, option);
        }
    }

    private void onClientFlags(ChannelHandlerContext ctx, int flags) {
        if ((flags & Nbd.FLAG_C_FIXED_NEWSTYLE) == 0 || (flags & ~KNOWN_CLIENT_FLAGS) != 0) {
            // Without fixed newstyle the client cannot cope with error replies; unknown flags
            // mean a protocol we do not speak. The specification says to disconnect in both cases.
            LOG.fine(() -> "client flags " + flags + " not supported, disconnecting");
            ctx.close();
            return;
        }
        session.noZeroes = (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
    }

    private void onOption(ChannelHandlerContext ctx, NbdOption option) {
        int opt = option.option();
        boolean tlsMissing = tlsMode == TlsMode.REQUIRED && !session.tlsActive;
        if (tlsMissing && opt != Nbd.OPT_STARTTLS && opt != Nbd.OPT_ABORT) {
            if (opt == Nbd.OPT_EXPORT_NAME) {
                ctx.close();
            } else {
                reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_TLS_REQD, "TLS is required: use STARTTLS first"));
            }
            return;
        }
        switch (opt) {
            case Nbd.OPT_EXPORT_NAME -> exportName(ctx, option.data());
            case Nbd.OPT_ABORT -> ctx.writeAndFlush(OptionReply.ack(opt)).addListener(ChannelFutureListener.CLOSE);
            case Nbd.OPT_LIST -> list(ctx, option);
            case Nbd.OPT_STARTTLS -> startTls(ctx, option);
            case Nbd.OPT_INFO, Nbd.OPT_GO -> infoOrGo(ctx, option);
            case Nbd.OPT_STRUCTURED_REPLY -> structuredReply(ctx, option);
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(ctx, option);
            default -> reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_UNSUP, "option " + opt + " is not supported"));
        }
    }

    private void exportName(ChannelHandlerContext ctx, byte[] data) {
        NbdExport export = exports.find(new String(data, StandardCharsets.UTF_8));
        if (export == null) {
            // EXPORT_NAME has no way to report an error: the protocol's answer is to disconnect.
            ctx.close();
            return;
        }
        session.export = export;
        ctx.write(new ExportNameReply(export.device().size(),
                TransmissionFlags.of(export, session.structuredReplies), session.noZeroes));
        enterTransmission(ctx);
        ctx.flush();
    }

    private void list(ChannelHandlerContext ctx, NbdOption option) {
        if (option.data().length != 0) {
            reply(ctx, OptionReply.error(option.option(), Nbd.REP_ERR_INVALID, "LIST takes no data"));
            return;
        }
        for (NbdExport e : exports.all()) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] description = e.description().getBytes(StandardCharsets.UTF_8);
            ByteBuf data = Unpooled.buffer().writeInt(name.length).writeBytes(name).writeBytes(description);
            ctx.write(new OptionReply(option.option(), Nbd.REP_SERVER, bytes(data)));
        }
        reply(ctx, OptionReply.ack(option.option()));
    }

    private void startTls(ChannelHandlerContext ctx, NbdOption option) {
        if (option.data().length != 0) {
            reply(ctx, OptionReply.error(option.option(), Nbd.REP_ERR_INVALID, "STARTTLS takes no data"));
        } else if (sslContext == null) {
            reply(ctx, OptionReply.error(option.option(), Nbd.REP_ERR_POLICY, "TLS is not configured on this server"));
        } else if (session.tlsActive) {
            reply(ctx, OptionReply.error(option.option(), Nbd.REP_ERR_INVALID, "TLS is already active"));
        } else {
            // startTls=true lets the ACK below leave in plaintext; everything after it is encrypted.
            ctx.pipeline().addFirst("tls", new SslHandler(sslContext.newEngine(ctx.alloc()), true));
            session.tlsActive = true;
            reply(ctx, OptionReply.ack(option.option()));
        }
    }

    private void structuredReply(ChannelHandlerContext ctx, NbdOption option) {
        if (option.data().length != 0) {
            reply(ctx, OptionReply.error(option.option(), Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data"));
            return;
        }
        session.structuredReplies = true;
        reply(ctx, OptionReply.ack(option.option()));
    }

    private void infoOrGo(ChannelHandlerContext ctx, NbdOption option) {
        ByteBuf in = Unpooled.wrappedBuffer(option.data());
        int opt = option.option();
        if (in.readableBytes() < 4 || in.getUnsignedInt(0) > in.readableBytes() - 6L) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_INVALID, "malformed INFO/GO request"));
            return;
        }
        String name = in.readCharSequence(in.readInt(), StandardCharsets.UTF_8).toString();
        int count = in.readUnsignedShort();
        if (in.readableBytes() != count * 2) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_INVALID, "INFO/GO request count does not match its length"));
            return;
        }
        List<Integer> requested = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            requested.add(in.readUnsignedShort());
        }
        NbdExport export = exports.find(name);
        if (export == null) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'"));
            return;
        }
        ctx.write(new OptionReply(opt, Nbd.REP_INFO, bytes(Unpooled.buffer(12).writeShort(Nbd.INFO_EXPORT)
                .writeLong(export.device().size()).writeShort(TransmissionFlags.of(export, session.structuredReplies)))));
        if (requested.contains(Nbd.INFO_NAME)) {
            byte[] exportName = export.name().getBytes(StandardCharsets.UTF_8);
            ctx.write(new OptionReply(opt, Nbd.REP_INFO,
                    bytes(Unpooled.buffer().writeShort(Nbd.INFO_NAME).writeBytes(exportName))));
        }
        if (requested.contains(Nbd.INFO_DESCRIPTION)) {
            byte[] description = export.description().getBytes(StandardCharsets.UTF_8);
            ctx.write(new OptionReply(opt, Nbd.REP_INFO,
                    bytes(Unpooled.buffer().writeShort(Nbd.INFO_DESCRIPTION).writeBytes(description))));
        }
        // Block sizes are always sent: clients that did not ask may still use them, and the
        // specification allows it. Any alignment works (inner layers read-modify-write).
        int preferred = Math.max(4096, export.device().blockSize());
        ctx.write(new OptionReply(opt, Nbd.REP_INFO, bytes(Unpooled.buffer(14).writeShort(Nbd.INFO_BLOCK_SIZE)
                .writeInt(1).writeInt(preferred).writeInt(Nbd.MAX_PAYLOAD))));
        if (opt == Nbd.OPT_GO) {
            session.export = export;
            ctx.write(OptionReply.ack(opt));
            enterTransmission(ctx);
            ctx.flush();
        } else {
            reply(ctx, OptionReply.ack(opt));
        }
    }

    private void metaContext(ChannelHandlerContext ctx, NbdOption option) {
        int opt = option.option();
        boolean set = opt == Nbd.OPT_SET_META_CONTEXT;
        if (set && !session.structuredReplies) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies first"));
            return;
        }
        MetaContextRequest request = MetaContextRequest.parse(option.data());
        if (request == null) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_INVALID, "malformed meta context request"));
            return;
        }
        NbdExport export = exports.find(request.exportName());
        if (export == null) {
            reply(ctx, OptionReply.error(opt, Nbd.REP_ERR_UNKNOWN, "no export named '" + request.exportName() + "'"));
            return;
        }
        boolean selected = request.selectsBaseAllocation(set);
        if (set) {
            session.metaContextExport = selected ? export.name() : null;
        }
        if (selected && export.device().capabilities().blockStatus()) {
            byte[] name = Nbd.META_BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            ctx.write(new OptionReply(opt, Nbd.REP_META_CONTEXT,
                    bytes(Unpooled.buffer().writeInt(Session.BASE_ALLOCATION_ID).writeBytes(name))));
        } else if (set) {
            session.metaContextExport = null;
        }
        reply(ctx, OptionReply.ack(opt));
    }

    private void enterTransmission(ChannelHandlerContext ctx) {
        cancelTimeout();
        var pipeline = ctx.pipeline();
        // The new decoder goes right after the old one, so bytes the old one already buffered reach it.
        pipeline.addAfter("decoder", "requests", new RequestDecoder());
        pipeline.remove("decoder");
        pipeline.replace(this, "transmission", new TransmissionHandler(session, connections));
    }

    private void reply(ChannelHandlerContext ctx, OptionReply reply) {
        ctx.writeAndFlush(reply);
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    private static byte[] bytes(ByteBuf buf) {
        byte[] out = new byte[buf.readableBytes()];
        buf.readBytes(out);
        return out;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.fine(() -> "closing connection during handshake: " + cause.getMessage());
        ctx.close();
    }
}
