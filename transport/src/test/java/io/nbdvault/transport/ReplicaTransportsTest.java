package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import io.nbdvault.nbd.server.SocketTransport;
import io.nbdvault.testing.Devices;
import io.nbdvault.transport.iscsi.ChapSecrets;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Replicas are reached over TCP and unix sockets on each of Netty's transports this machine has. */
@Timeout(120)
class ReplicaTransportsTest {
    private static final int SIZE = 16 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(SocketTransport.class)
    void writesFromEveryLoopComeBackOverTcpAndUnixSockets(SocketTransport transport) throws Exception {
        if (!transport.available()) {
            assertThrows(IllegalStateException.class, () -> new TransportContext(NbdClientOptions.defaults(),
                    p -> FileSpace.NONE, null, ChapSecrets.NONE, 2, transport));
            return;
        }
        try (TransportContext context = new TransportContext(NbdClientOptions.defaults(), p -> FileSpace.NONE, null,
                ChapSecrets.NONE, 2, transport);
             Nbdkit unix = Nbdkit.start(dir.resolve("r.sock"), "memory", Integer.toString(SIZE));
             NbdServer tcp = NbdServer.builder().export(new NbdExport("r", "replica", new MemoryDevice(SIZE), false))
                     .listenTcp("127.0.0.1", 0).start()) {
            assertEquals(transport, SocketTransport.of(context.eventLoops()));
            try (BlockDevice overTcp = context.open("nbd://127.0.0.1:" + tcp.tcpAddress().getPort() + "/r").join()) {
                writeAndReadBack(overTcp, transport.ordinal());
            }
            if (transport.hasUnixSockets()) {
                try (BlockDevice overUnix = context.open(unix.uri()).join()) {
                    writeAndReadBack(overUnix, 10 + transport.ordinal());
                }
            } else {
                CompletionException e = assertThrows(CompletionException.class, () -> context.open(unix.uri()).join());
                assertInstanceOf(IOException.class, e.getCause());
            }
        }
    }

    static java.util.stream.Stream<SocketTransport> withUnixSockets() {
        return java.util.Arrays.stream(SocketTransport.values()).filter(t -> t.available() && t.hasUnixSockets());
    }

    /**
     * A unix-socket replica's connection asks for a larger kernel send buffer than the default, and gets
     * what Linux gives: twice the request capped at net.core.wmem_max (see UNIX_REPLICA_SEND_BUFFER).
     */
    @ParameterizedTest
    @MethodSource("withUnixSockets")
    void unixReplicaConnectionsGetALargerSendBuffer(SocketTransport transport) throws Exception {
        try (TransportContext context = new TransportContext(NbdClientOptions.defaults(), p -> FileSpace.NONE, null,
                ChapSecrets.NONE, 1, transport)) {
            DomainSocketAddress address = new DomainSocketAddress(dir.resolve("s.sock").toFile());
            Channel server = new ServerBootstrap().group(context.eventLoops()).channel(transport.serverDomainSocketChannel())
                    .childHandler(new ChannelInboundHandlerAdapter()).bind(address).sync().channel();
            Channel plain = new Bootstrap().group(context.eventLoops()).channel(transport.domainSocketChannel())
                    .handler(new ChannelInboundHandlerAdapter()).connect(address).sync().channel();
            Channel replica = context.unixReplicaBootstrap().handler(new ChannelInboundHandlerAdapter())
                    .connect(address).sync().channel();
            try {
                long wmemMax = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/net/core/wmem_max")).get(0).trim());
                int expected = (int) Math.min(TransportContext.UNIX_REPLICA_SEND_BUFFER, wmemMax) * 2;
                assertEquals(expected, replica.config().getOption(ChannelOption.SO_SNDBUF));
                assertTrue(expected > plain.config().getOption(ChannelOption.SO_SNDBUF),
                        "the default " + plain.config().getOption(ChannelOption.SO_SNDBUF) + " is smaller");
            } finally {
                replica.close().sync();
                plain.close().sync();
                server.close().sync();
            }
        }
    }

    /** Many writes of mixed sizes in flight at once, issued from the test thread, then one read of everything. */
    private static void writeAndReadBack(BlockDevice d, long seed) {
        byte[] model = new byte[SIZE];
        Random random = new Random(seed);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int offset = 0; offset < SIZE; ) {
            int length = Math.min(SIZE - offset, random.nextBoolean() ? 4096 : 1 + random.nextInt(300_000));
            byte[] data = new byte[length];
            random.nextBytes(data);
            System.arraycopy(data, 0, model, offset, length);
            writes.add(d.write(offset, Unpooled.wrappedBuffer(data), 0));
            offset += length;
        }
        CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
        d.flush().join();
        assertArrayEquals(model, Devices.read(d, 0, SIZE));
    }
}
