package io.nbdvault.transport.nbd;

import io.nbdvault.nbd.codec.FramingDecoder;
import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Client side of the fixed newstyle handshake: checks the greeting, upgrades to TLS with
 * OPT_STARTTLS when asked to, asks for the export with OPT_GO (and its block sizes), and completes
 * {@code result} once the server acknowledges. Structured replies are asked for: a server may
 * then answer a read in pieces, skip the zeros of holes, and say where an error happened.
 */
final class ClientHandshake extends FramingDecoder {
    private final String exportName;
    private final CompletableFuture<ExportInfo> result;
    private final TlsClient tls;
    private boolean greeted;
    /** STARTTLS sent and not yet acknowledged. */
    private boolean awaitingStartTls;
    private boolean structuredReplies;
    private long size = -1;
    private int flags;
    private int minimum = 1;
    private int preferred = 4096;
    private int maximum = Nbd.MAX_PAYLOAD;

    ClientHandshake(String exportName, CompletableFuture<ExportInfo> result, TlsClient tls) {
        this.exportName = exportName;
        this.result = result;
        this.tls = tls;
    }

    /** Asks for structured replies (a server that has none says so, and simple replies are used), then the export. */
    private void sendGo(ChannelHandlerContext ctx) {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuf go = ctx.alloc().buffer();
        go.writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_STRUCTURED_REPLY).writeInt(0);
        go.writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_GO).writeInt(4 + name.length + 2 + 2)
                .writeInt(name.length).writeBytes(name).writeShort(1).writeShort(Nbd.INFO_BLOCK_SIZE);
        ctx.writeAndFlush(go);
    }

    /** The server agreed: everything from here on goes through TLS, then the export is asked for. */
    private void startTls(ChannelHandlerContext ctx) {
        io.netty.handler.ssl.SslHandler handler = tls.newHandler(ctx.alloc());
        ctx.pipeline().addFirst("tls", handler);
        handler.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                sendGo(ctx);
            } else {
                result.completeExceptionally(new IOException("TLS handshake failed: " + f.cause().getMessage(), f.cause()));
                ctx.close();
            }
        });
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws IOException {
        if (!greeted) {
            if (in.readableBytes() < 18) {
                return;
            }
            if (in.readLong() != Nbd.NBDMAGIC || in.readLong() != Nbd.IHAVEOPT) {
                throw new IOException("not a newstyle NBD server");
            }
            int serverFlags = in.readUnsignedShort();
            if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
                throw new IOException("server does not support fixed newstyle negotiation");
            }
            greeted = true;
            ByteBuf hello = ctx.alloc().buffer();
            hello.writeInt(Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES));
            if (tls != null) {
                hello.writeLong(Nbd.IHAVEOPT).writeInt(Nbd.OPT_STARTTLS).writeInt(0);
                awaitingStartTls = true;
                ctx.writeAndFlush(hello);
            } else {
                ctx.writeAndFlush(hello);
                sendGo(ctx);
            }
            return;
        }
        while (in.readableBytes() >= 20) {
            int start = in.readerIndex();
            long length = in.getUnsignedInt(start + 16);
            if (in.getLong(start) != Nbd.OPTION_REPLY_MAGIC || length > Nbd.MAX_OPTION_LENGTH) {
                throw new IOException("malformed option reply from the server");
            }
            if (in.readableBytes() < 20 + length) {
                return;
            }
            in.skipBytes(8);
            int option = in.readInt();
            int type = in.readInt();
            in.skipBytes(4);
            ByteBuf data = in.readSlice((int) length);
            if (option == Nbd.OPT_STRUCTURED_REPLY) {
                // ACK: the server may now answer in chunks; an error (old server): it will not. Either is fine.
                structuredReplies = type == Nbd.REP_ACK;
                continue;
            }
            if (awaitingStartTls) {
                if (type != Nbd.REP_ACK) {
                    throw new IOException("server refused TLS (reply 0x" + Integer.toHexString(type) + ")"
                            + (type == Nbd.REP_ERR_UNSUP || type == Nbd.REP_ERR_POLICY ? ": it does not offer TLS" : ""));
                }
                awaitingStartTls = false;
                startTls(ctx);
                return;
            }
            if (type == Nbd.REP_ACK) {
                if (size < 0) {
                    throw new IOException("server acknowledged GO without describing the export");
                }
                ctx.pipeline().remove(this);
                result.complete(new ExportInfo(size, flags, minimum, preferred, Math.min(maximum, Nbd.MAX_PAYLOAD),
                        structuredReplies));
                return;
            }
            if ((type & Nbd.REP_FLAG_ERROR) != 0) {
                String message = data.toString(StandardCharsets.UTF_8);
                throw new IOException("server refused export '" + exportName + "'"
                        + (type == Nbd.REP_ERR_UNKNOWN ? " (no such export)" : type == Nbd.REP_ERR_TLS_REQD
                        ? " (it requires TLS)" : " (error 0x" + Integer.toHexString(type) + ")")
                        + (message.isEmpty() ? "" : ": " + message));
            }
            if (type == Nbd.REP_INFO && data.readableBytes() >= 2) {
                int info = data.readUnsignedShort();
                if (info == Nbd.INFO_EXPORT && data.readableBytes() >= 10) {
                    size = data.readLong();
                    flags = data.readUnsignedShort();
                } else if (info == Nbd.INFO_BLOCK_SIZE && data.readableBytes() >= 12) {
                    minimum = data.readInt();
                    preferred = data.readInt();
                    maximum = data.readInt();
                }
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        result.completeExceptionally(cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause);
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        result.completeExceptionally(new IOException("server closed the connection during the handshake"));
        super.channelInactive(ctx);
    }
}
