package io.nbdvault.nbd.server;

import io.nbdvault.nbd.protocol.Nbd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and broken clients: each gets the protocol's answer or a clean disconnect, and a
 * well-behaved client connected at the same time keeps being served.
 */
@Timeout(60)
class BadInputTest {
    private static final long SIZE = 1 << 20;

    @TempDir
    Path dir;
    TestServer server;
    RawClient bystander;

    @BeforeEach
    void start() throws IOException {
        server = TestServer.memory(dir, SIZE);
        bystander = new RawClient(server.socket).handshake().go("disk");
    }

    @AfterEach
    void stop() throws IOException {
        assertBystanderStillServed();
        bystander.close();
        server.close();
    }

    private void assertBystanderStillServed() throws IOException {
        byte[] data = {1, 2, 3, 4, 5, 6, 7, 8};
        bystander.request(0, Nbd.CMD_WRITE, 100, 4096, data.length, data);
        assertEquals(0, bystander.reply(0).error());
        bystander.request(0, Nbd.CMD_READ, 101, 4096, data.length, null);
        RawClient.Reply r = bystander.reply(data.length);
        assertEquals(101, r.cookie());
        assertArrayEquals(data, r.data());
    }

    @Test
    void wrongClientFlagsAreDisconnected() throws IOException {
        try (RawClient c = new RawClient(server.socket)) {
            c.read(18);
            c.write(ByteBuffer.allocate(4).putInt(0).flip()); // not fixed newstyle
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void wrongOptionMagicIsDisconnected() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake()) {
            c.write(ByteBuffer.allocate(16).putLong(0x1122334455667788L).putInt(Nbd.OPT_GO).putInt(0).flip());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void unknownOptionIsUnsupportedAndTheHandshakeGoesOn() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake()) {
            c.option(4242, new byte[] {1, 2, 3});
            RawClient.OptReply r = c.optReply();
            assertEquals(4242, r.option());
            assertEquals(Nbd.REP_ERR_UNSUP, r.type());
            c.go("disk");
            c.request(0, Nbd.CMD_READ, 1, 0, 512, null);
            assertEquals(0, c.reply(512).error());
        }
    }

    @Test
    void oversizedOptionIsDisconnectedWithoutBufferingIt() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake()) {
            c.write(ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(0x7fffffff).flip());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void unknownExportIsAnErrorForGoAndADisconnectForExportName() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake()) {
            byte[] name = "nope".getBytes();
            c.option(Nbd.OPT_GO, ByteBuffer.allocate(6 + name.length).putInt(name.length).put(name).putShort((short) 0).array());
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.optReply().type());
            c.option(Nbd.OPT_EXPORT_NAME, name);
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void malformedGoPayloadIsInvalid() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake()) {
            c.option(Nbd.OPT_GO, ByteBuffer.allocate(6).putInt(1000).putShort((short) 0).array());
            assertEquals(Nbd.REP_ERR_INVALID, c.optReply().type());
        }
    }

    @Test
    void requestsOutsideTheExportGetEinvalOrEnospc() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake().go("disk")) {
            c.request(0, Nbd.CMD_READ, 1, SIZE - 512, 1024, null);
            assertEquals(22, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 2, Long.MAX_VALUE, 512, null);
            assertEquals(22, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 3, -4096, 512, null);
            assertEquals(22, c.reply(0).error());
            c.request(0, Nbd.CMD_WRITE, 4, SIZE, 4, new byte[4]);
            assertEquals(28, c.reply(0).error());
            c.request(0, Nbd.CMD_TRIM, 5, 0, (int) SIZE + 1, null);
            assertEquals(22, c.reply(0).error());
            c.request(0, 99, 6, 0, 0, null);
            assertEquals(22, c.reply(0).error());
            c.request(0x4000, Nbd.CMD_READ, 7, 0, 512, null);
            assertEquals(22, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 8, 0, 512, null);
            assertEquals(0, c.reply(512).error());
        }
    }

    @Test
    void oversizedRequestsAreRefusedAndTheStreamStaysInStep() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake().go("disk")) {
            c.request(0, Nbd.CMD_READ, 1, 0, 64 << 20, null);
            assertEquals(75, c.reply(0).error());
            int big = Nbd.MAX_PAYLOAD + 4096;
            c.request(0, Nbd.CMD_WRITE, 2, 0, big, new byte[big]);
            assertEquals(75, c.reply(0).error());
            c.request(0, Nbd.CMD_READ, 3, 0, 16, null);
            RawClient.Reply r = c.reply(16);
            assertEquals(0, r.error());
            assertEquals(3, r.cookie());
            assertArrayEquals(new byte[16], r.data(), "the refused write changed nothing");
        }
    }

    @Test
    void garbageMidStreamIsDisconnected() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake().go("disk")) {
            c.request(0, Nbd.CMD_READ, 1, 0, 512, null);
            assertEquals(0, c.reply(512).error());
            c.write(ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n".getBytes()));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void blockStatusWithoutAMetaContextIsInvalid() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake().go("disk")) {
            c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 4096, null);
            assertEquals(22, c.reply(0).error());
        }
    }

    @Test
    void disconnectAnswersWhatIsInFlightThenCloses() throws IOException {
        try (RawClient c = new RawClient(server.socket).handshake().go("disk")) {
            c.request(0, Nbd.CMD_READ, 1, 0, 4096, null);
            c.request(0, Nbd.CMD_DISC, 2, 0, 0, null);
            assertEquals(1, c.reply(4096).cookie());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void silentClientIsDroppedAfterTheHandshakeTimeout() throws IOException {
        try (TestServer quick = TestServer.start(dir.resolve("q"),
                TestServer.with(new io.nbdvault.core.MemoryDevice(4096), false).handshakeTimeoutMillis(200));
             RawClient c = new RawClient(quick.socket)) {
            c.read(18);
            assertTrue(c.closedByServer());
        }
    }

    /**
     * A client that starts the handshake (flags, an option answered) and then stops half-way through
     * the next option header is dropped when the handshake deadline passes: the deadline covers the
     * whole handshake, not only the first bytes.
     */
    @Test
    void clientStoppingMidHandshakeIsDroppedAfterTheHandshakeTimeout() throws IOException {
        try (TestServer quick = TestServer.start(dir.resolve("m"),
                TestServer.with(new io.nbdvault.core.MemoryDevice(4096), false).handshakeTimeoutMillis(300));
             RawClient c = new RawClient(quick.socket)) {
            c.handshake();
            c.option(Nbd.OPT_LIST, new byte[0]);
            RawClient.OptReply r;
            do {
                r = c.optReply();
            } while (r.type() != Nbd.REP_ACK);
            c.write(ByteBuffer.allocate(10).putLong(Nbd.IHAVEOPT).putShort((short) 0).flip()); // then nothing
            long start = System.nanoTime();
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                    () -> assertTrue(c.closedByServer()), "the server never dropped the stalled handshake");
            assertTrue(System.nanoTime() - start < java.util.concurrent.TimeUnit.SECONDS.toNanos(5));
        }
    }
}
