package io.nbdvault.nbd.server;

import io.nbdvault.nbd.codec.FramingDecoder;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connections closed before their loops stop: a decoder holding part of a message releases it, and
 * the channel's end is delivered while the loop still runs, on each transport the machine has.
 */
@Timeout(60)
class OrderlyShutdownTest {
    /** Waits for a 48-byte header; keeps hold of what it cumulated so the test can see it released. */
    private static final class HeaderDecoder extends FramingDecoder {
        final CountDownLatch received = new CountDownLatch(1);
        volatile ByteBuf held;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            held = in;
            received.countDown();
        }
    }

    @ParameterizedTest
    @EnumSource(SocketTransport.class)
    void aPartMessageIsReleasedAndTheEndDeliveredBeforeTheLoopsStop(SocketTransport transport) throws Exception {
        if (!transport.available()) {
            return; // SocketTransportTest checks that such a transport is never picked
        }
        EventLoopGroup server = transport.newEventLoops(1);
        EventLoopGroup loops = transport.newEventLoops(2);
        try {
            Channel listener = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            // 20 bytes of a 48-byte header, then nothing
                            ch.writeAndFlush(ch.alloc().buffer(20).writeZero(20));
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            ChannelGroup connections = new DefaultChannelGroup("test connections", GlobalEventExecutor.INSTANCE);
            HeaderDecoder decoder = new HeaderDecoder();
            CompletableFuture<Boolean> stoppingAtEnd = new CompletableFuture<>();
            Channel client = new Bootstrap().group(loops).channel(transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(decoder).addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelInactive(ChannelHandlerContext ctx) {
                                    stoppingAtEnd.complete(ctx.executor().isShuttingDown());
                                }
                            });
                        }
                    }).connect((InetSocketAddress) listener.localAddress()).sync().channel();
            connections.add(client);
            assertTrue(decoder.received.await(10, TimeUnit.SECONDS), "the 20 bytes did not arrive");
            assertEquals(20, decoder.held.readableBytes());

            OrderlyShutdown.closeThenStop(connections, loops, 2000);

            assertTrue(loops.isTerminated());
            assertFalse(stoppingAtEnd.get(0, TimeUnit.SECONDS), "the end was delivered only as the loop stopped");
            assertEquals(0, decoder.held.refCnt(), "the part message was not released");
            listener.close().sync();
        } finally {
            loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            server.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
