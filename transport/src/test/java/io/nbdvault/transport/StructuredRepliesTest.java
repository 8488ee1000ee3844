package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.testing.Devices;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replica client asks for structured replies and reads what real servers send in them. */
@Timeout(120)
class StructuredRepliesTest {
    @TempDir
    Path dir;

    static TransportContext context() {
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)), p -> null);
    }

    @Test
    void nbdkitIsAskedForStructuredRepliesAndReadsComeBackIntact() throws Exception {
        byte[] data = new byte[3 << 20];
        new Random(4).nextBytes(data);
        try (Nbdkit server = Nbdkit.start(dir.resolve("s.sock"), "-v", "memory", "8M");
             TransportContext context = context();
             BlockDevice d = context.open(server.uri()).join()) {
            d.write(12345, Unpooled.wrappedBuffer(data), 0).join();
            assertArrayEquals(data, Devices.read(d, 12345, data.length));
            String log = Files.readString(Path.of(server.socket + ".log"));
            assertTrue(log.contains("replying to NBD_OPT_STRUCTURED_REPLY with NBD_REP_ACK"), log);
        }
    }

    /** qemu-nbd answers reads of a sparse file with OFFSET_DATA and OFFSET_HOLE chunks. */
    @Test
    void holesAndDataPiecesFromQemuNbdAreAssembledInPlace() throws Exception {
        Path image = dir.resolve("sparse.img");
        byte[] expected = new byte[8 << 20];
        Random random = new Random(5);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(expected.length);
            for (long at : new long[] {4096, (1 << 20) + 512 * 1024, (5L << 20) + 65536}) {
                byte[] island = new byte[128 * 1024];
                random.nextBytes(island);
                f.seek(at);
                f.write(island);
                System.arraycopy(island, 0, expected, (int) at, island.length);
            }
        }
        Path socket = dir.resolve("q.sock");
        Process qemuNbd = new ProcessBuilder(ExternalTool.require("qemu-nbd"), "-f", "raw", "-t", "-k", socket.toString(),
                image.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(socket)) {
                assertTrue(System.nanoTime() < deadline && qemuNbd.isAlive(), "qemu-nbd started: "
                        + Files.readString(dir.resolve("qemu-nbd.log")));
                Thread.sleep(20);
            }
            try (TransportContext context = context();
                 BlockDevice d = context.open("nbd+unix:///?socket=" + socket).join()) {
                assertArrayEquals(expected, Devices.read(d, 0, expected.length), "whole image, holes as zeros");
                // A read starting inside a hole and ending inside data, and one inside a hole only.
                byte[] part = Devices.read(d, 1 << 20, 1 << 20);
                assertArrayEquals(java.util.Arrays.copyOfRange(expected, 1 << 20, 2 << 20), part);
                assertArrayEquals(new byte[65536], Devices.read(d, 3L << 20, 65536));
            }
        } finally {
            qemuNbd.destroy();
            qemuNbd.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
