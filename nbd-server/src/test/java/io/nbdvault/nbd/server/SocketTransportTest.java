package io.nbdvault.nbd.server;

import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each of Netty's transports carries the NBD server's sockets, and the process picks the best it has. */
@Timeout(120)
class SocketTransportTest {
    @TempDir
    Path dir;

    /**
     * nbdcopy (four connections, many requests in flight each) writes random bytes over one socket
     * and reads them back over the other, on event loops of the given transport.
     */
    @ParameterizedTest
    @EnumSource(SocketTransport.class)
    void everyAvailableTransportCarriesNbdcopyBothWays(SocketTransport transport) throws Exception {
        if (!transport.available()) {
            // Not a skip: where a transport is missing, the process must not pick it.
            assertNotNull(transport.unavailabilityCause());
            assertTrue(SocketTransport.chosen("auto").compareTo(transport) > 0);
            assertThrows(IllegalStateException.class, () -> SocketTransport.chosen(transport.toString()));
            return;
        }
        String nbdcopy = ExternalTool.require("nbdcopy");
        byte[] data = new byte[8 << 20];
        new Random(transport.ordinal()).nextBytes(data);
        Path in = Files.write(dir.resolve("in.img"), data);
        Path out = dir.resolve("out.img");
        EventLoopGroup loops = transport.newEventLoops(2);
        try {
            assertEquals(transport, SocketTransport.of(loops));
            NbdServer.Builder b = TestServer.with(new MemoryDevice(data.length), false).eventLoops(loops);
            if (transport.hasUnixSockets()) {
                try (TestServer s = TestServer.start(dir, b)) {
                    Proc.run(60, nbdcopy, in.toString(), s.tcpUri("disk")).assertOk();
                    Proc.run(60, nbdcopy, s.unixUri("disk"), out.toString()).assertOk();
                }
            } else {
                try (NbdServer s = b.listenTcp("127.0.0.1", 0).start()) {
                    String uri = "nbd://127.0.0.1:" + s.tcpAddress().getPort() + "/disk";
                    Proc.run(60, nbdcopy, in.toString(), uri).assertOk();
                    Proc.run(60, nbdcopy, uri, out.toString()).assertOk();
                }
            }
        } finally {
            loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
        assertArrayEquals(data, Files.readAllBytes(out));
    }

    @Test
    void nioHasNoUnixSocketsAndTheServerSaysSoBeforeListening() {
        EventLoopGroup loops = SocketTransport.NIO.newEventLoops(1);
        try {
            NbdServer.Builder b = TestServer.with(new MemoryDevice(1 << 20), false).eventLoops(loops)
                    .listenUnix(dir.resolve("nbd.sock"));
            assertThrows(IOException.class, b::start);
            assertTrue(Files.notExists(dir.resolve("nbd.sock")));
            assertThrows(UnsupportedOperationException.class, SocketTransport.NIO::domainSocketChannel);
        } finally {
            loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void theDefaultIsTheFirstAvailableAndANameInsistsOnOne() {
        SocketTransport first = Arrays.stream(SocketTransport.values()).filter(SocketTransport::available).findFirst()
                .orElseThrow();
        assertEquals(first, SocketTransport.chosen(""));
        assertEquals(first, SocketTransport.chosen(" auto "));
        // Linux machines running nbdvault all have epoll; io_uring depends on the kernel and its policy.
        assertTrue(SocketTransport.EPOLL.available(), String.valueOf(SocketTransport.EPOLL.unavailabilityCause()));
        assertEquals(SocketTransport.EPOLL, SocketTransport.chosen("epoll"));
        assertEquals(SocketTransport.NIO, SocketTransport.chosen("NIO"));
        if (SocketTransport.IO_URING.available()) {
            assertEquals(SocketTransport.IO_URING, SocketTransport.chosen("io-uring"));
            assertEquals(SocketTransport.IO_URING, first);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SocketTransport.chosen("kqueue"));
        assertTrue(e.getMessage().contains(SocketTransport.PROPERTY));
    }
}
