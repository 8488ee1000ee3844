package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.FileSpace;
import io.nbdvault.nbd.protocol.Nbd;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replica client against a server that completes the handshake and then misbehaves. */
@Timeout(60)
class HostileServerTest {
    @TempDir
    Path dir;

    /** What the hostile server does with each request after an honest handshake. */
    interface Misbehaviour {
        void answer(DataOutputStream out, long cookie, int type, int length) throws IOException;
    }

    /** Serves one connection at a time on a unix socket, until closed. */
    static final class HostileServer implements AutoCloseable {
        final ServerSocketChannel listener;
        final Thread thread;

        HostileServer(Path socket, Misbehaviour misbehaviour) throws IOException {
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            listener.bind(UnixDomainSocketAddress.of(socket));
            thread = new Thread(() -> {
                while (listener.isOpen()) {
                    try (SocketChannel ch = listener.accept()) {
                        serve(new DataInputStream(Channels.newInputStream(ch)),
                                new DataOutputStream(Channels.newOutputStream(ch)), misbehaviour);
                    } catch (IOException closed) {
                        // The client went away, or the test closed the listener.
                    }
                }
            }, "hostile-nbd-server");
            thread.setDaemon(true);
            thread.start();
        }

        private static void optionReply(DataOutputStream out, int option, int type, byte[] data) throws IOException {
            out.writeLong(Nbd.OPTION_REPLY_MAGIC);
            out.writeInt(option);
            out.writeInt(type);
            out.writeInt(data.length);
            out.write(data);
        }

        static void serve(DataInputStream in, DataOutputStream out, Misbehaviour misbehaviour) throws IOException {
            handshake(in, out, 1 << 20);
            while (true) {
                in.readInt();
                in.readShort();
                int type = in.readShort();
                long cookie = in.readLong();
                in.readLong();
                int length = in.readInt();
                if (type == Nbd.CMD_WRITE) {
                    in.skipNBytes(length);
                }
                misbehaviour.answer(out, cookie, type, length);
                out.flush();
            }
        }

        /** An honest fixed-newstyle handshake for an export of {@code size} bytes. */
        static void handshake(DataInputStream in, DataOutputStream out, long size) throws IOException {
            out.writeLong(Nbd.NBDMAGIC);
            out.writeLong(Nbd.IHAVEOPT);
            out.writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
            out.flush();
            in.readInt();
            while (true) {
                in.readLong();
                int option = in.readInt();
                in.skipNBytes(in.readInt());
                if (option == Nbd.OPT_STRUCTURED_REPLY) {
                    optionReply(out, option, Nbd.REP_ACK, new byte[0]);
                } else if (option == Nbd.OPT_GO) {
                    java.nio.ByteBuffer info = java.nio.ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT)
                            .putLong(size).putShort((short) (Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH));
                    optionReply(out, option, Nbd.REP_INFO, info.array());
                    optionReply(out, option, Nbd.REP_ACK, new byte[0]);
                    out.flush();
                    break;
                } else {
                    optionReply(out, option, Nbd.REP_ERR_UNSUP, new byte[0]);
                }
                out.flush();
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    BlockDevice connect(Path socket, TransportContext context) {
        return context.open("nbd+unix:///?socket=" + socket).join();
    }

    @Test
    void aStructuredReplyThatEndsWithoutTheDataFailsTheReadPromptly() throws Exception {
        Path socket = dir.resolve("hostile.sock");
        // "Done" at once, with no OFFSET_DATA: the read's bytes never come.
        Misbehaviour noData = (out, cookie, type, length) -> {
            out.writeInt(Nbd.STRUCTURED_REPLY_MAGIC);
            out.writeShort(Nbd.REPLY_FLAG_DONE);
            out.writeShort(Nbd.REPLY_TYPE_NONE);
            out.writeLong(cookie);
            out.writeInt(0);
        };
        try (HostileServer server = new HostileServer(socket, noData);
             TransportContext context = new TransportContext(
                     NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(30)), p -> FileSpace.NONE);
             BlockDevice d = connect(socket, context)) {
            CompletableFuture<ByteBuf> read = d.read(0, 4096);
            // Well before the 30 s request timeout: the incomplete answer itself fails the request.
            ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(5, TimeUnit.SECONDS));
            assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e.getCause()));
        }
    }

    @Test
    void aWriteThatCannotBeSentReleasesItsPayload() throws Exception {
        Path socket = dir.resolve("closing.sock");
        Misbehaviour hangUp = (out, cookie, type, length) -> {
            throw new IOException("hang up");
        };
        try (HostileServer server = new HostileServer(socket, hangUp);
             TransportContext context = new TransportContext(
                     NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(2)), p -> FileSpace.NONE);
             BlockDevice d = connect(socket, context)) {
            server.close();
            for (int i = 0; i < 20; i++) {
                ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(65536).writeZero(65536);
                try {
                    d.write(0, data, 0).handle((ok, e) -> null).get(10, TimeUnit.SECONDS);
                } finally {
                    data.release();
                }
                assertEquals(0, data.refCnt(), "write " + i + ": nothing kept a reference to the payload");
            }
        }
    }

    /**
     * A replica that stops reading (a link gone down) while an 8 MiB write is on its way: when the
     * request times out, the connection is reset, so what the kernel had not sent yet is dropped. A
     * drained connection would deliver it once the link came back, after the copy had been
     * resynchronised without it: the server here would read on to a clean end of stream.
     */
    @Test
    void aConnectionGivenUpOnIsResetSoItsQueuedWritesNeverLand() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 65536); // a small window, set before bind
            listener.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<String> end = new CompletableFuture<>();
            Thread server = new Thread(() -> {
                try (SocketChannel ch = listener.accept()) {
                    DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
                    HostileServer.handshake(in, new DataOutputStream(Channels.newOutputStream(ch)), 64 << 20);
                    Thread.sleep(3000); // nothing read while the write times out (1 s) and is given up
                    long bytes = 0;
                    byte[] buf = new byte[65536];
                    try {
                        for (int n; (n = in.read(buf)) >= 0; ) {
                            bytes += n;
                        }
                        end.complete("end of stream after " + bytes + " bytes");
                    } catch (IOException e) {
                        end.complete("reset after " + bytes + " bytes: " + e.getMessage());
                    }
                } catch (Exception e) {
                    end.completeExceptionally(e);
                }
            }, "stalled-nbd-server");
            server.setDaemon(true);
            server.start();
            int port = ((java.net.InetSocketAddress) listener.getLocalAddress()).getPort();
            try (TransportContext context = new TransportContext(
                    NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(1)), p -> FileSpace.NONE);
                 BlockDevice d = context.open("nbd://127.0.0.1:" + port + "/").get(10, TimeUnit.SECONDS)) {
                ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(8 << 20).writeZero(8 << 20);
                try {
                    ExecutionException e = assertThrows(ExecutionException.class, () -> d.write(0, data, 0).get(10, TimeUnit.SECONDS));
                    assertEquals(Errno.EIO, BlockDeviceException.errnoOf(e.getCause()));
                } finally {
                    data.release();
                }
                String seen = end.get(20, TimeUnit.SECONDS);
                assertTrue(seen.startsWith("reset"), seen);
            }
        }
    }
}
