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
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
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
