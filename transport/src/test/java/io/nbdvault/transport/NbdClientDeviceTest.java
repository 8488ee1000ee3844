package io.nbdvault.transport;

import static io.nbdvault.testing.Devices.read;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.transport.nbd.NbdClientDevice;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replica client against real nbdkit servers, healthy and misbehaving. */
@Timeout(120)
class NbdClientDeviceTest {
    @TempDir
    Path dir;
    TransportContext context;

    @BeforeEach
    void context() {
        context = new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofMillis(800)),
                p -> FileSpace.NONE);
    }

    @AfterEach
    void closeContext() {
        context.close();
    }


    static Errno errnoOf(Runnable r) {
        CompletionException e = assertThrows(CompletionException.class, r::run);
        return BlockDeviceException.errnoOf(e);
    }

    static void awaitConnected(BlockDevice d) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!((NbdClientDevice) d).isConnected()) {
            assertTrue(System.nanoTime() < deadline, "reconnected within 20 s");
            Thread.sleep(20);
        }
    }

    @Test
    void manyConcurrentRequestsAndSplitReadsMatchAModel() throws Exception {
        try (Nbdkit server = Nbdkit.start(dir.resolve("m.sock"), "memory", "80M");
             BlockDevice d = context.open(server.uri()).join()) {
            assertEquals(80L << 20, d.size());
            assertTrue(d.capabilities().multiConn() && d.capabilities().fua() && d.capabilities().trim());
            byte[] model = new byte[80 << 20];
            Random random = new Random(1);
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            List<Integer> slots = new ArrayList<>();
            for (int i = 0; i < (80 << 20) / 100_000 - 1; i++) {
                slots.add(i);
            }
            java.util.Collections.shuffle(slots, random);
            for (int i = 0; i < 300; i++) {
                int length = 1 + random.nextInt(100_000);
                int offset = slots.get(i) * 100_000; // concurrent writes never overlap: their order is unspecified
                byte[] data = new byte[length];
                random.nextBytes(data);
                System.arraycopy(data, 0, model, offset, length);
                writes.add(d.write(offset, Unpooled.wrappedBuffer(data), random.nextBoolean() ? WriteFlags.FUA : 0));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
            d.flush().join();
            assertArrayEquals(model, read(d, 0, 80 << 20), "a read larger than the 32 MiB maximum is split");
            d.trim(0, 1 << 20, 0).join();
            d.writeZeroes(2 << 20, 1 << 20, WriteFlags.NO_HOLE).join();
            assertArrayEquals(new byte[1 << 20], read(d, 2 << 20, 1 << 20));
            assertEquals(Errno.EINVAL, errnoOf(() -> d.read((80L << 20) - 10, 20).join()), "server's EINVAL comes through");
        }
    }

    @Test
    void overTcpToo() throws Exception {
        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process p = new ProcessBuilder(io.nbdvault.testing.ExternalTool.require("nbdkit"), "-f", "--exit-with-parent",
                "-i", "127.0.0.1", "-p", Integer.toString(port), "memory", "4M").start();
        try {
            BlockDevice d = null;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (d == null) {
                try {
                    d = context.open("nbd://127.0.0.1:" + port + "/").join();
                } catch (CompletionException notYet) {
                    assertTrue(System.nanoTime() < deadline, "nbdkit listens within 20 s: " + notYet.getMessage());
                    Thread.sleep(50);
                }
            }
            d.write(4096, Unpooled.wrappedBuffer(new byte[] {4, 2}), 0).join();
            assertArrayEquals(new byte[] {4, 2}, read(d, 4096, 2));
            d.close();
        } finally {
            p.destroy();
        }
    }

    @Test
    void serverErrorsBecomeEio() throws Exception {
        try (Nbdkit server = Nbdkit.start(dir.resolve("e.sock"), "--filter=error", "memory", "4M",
                "error=EIO", "error-pread-rate=100%");
             BlockDevice d = context.open(server.uri()).join()) {
            assertEquals(Errno.EIO, errnoOf(() -> read(d, 0, 4096)));
            d.write(0, Unpooled.wrappedBuffer(new byte[512]), 0).join();
        }
    }

    @Test
    void slowServerTimesOutWithinTheLimit() throws Exception {
        try (Nbdkit server = Nbdkit.start(dir.resolve("d.sock"), "--filter=delay", "memory", "4M", "rdelay=5");
             BlockDevice d = context.open(server.uri()).join()) {
            CompletionException e = assertThrows(CompletionException.class, () -> read(d, 0, 4096));
            assertTrue(BlockDeviceException.unwrap(e).getMessage().contains("timed out"), e.getMessage());
        }
    }

    @Test
    void stoppedServerTimesOutAndIsUsedAgainAfterItContinues() throws Exception {
        try (Nbdkit server = Nbdkit.start(dir.resolve("s.sock"), "memory", "4M");
             BlockDevice d = context.open(server.uri()).join()) {
            d.write(0, Unpooled.wrappedBuffer(new byte[] {7}), 0).join();
            server.signal("STOP");
            CompletionException e = assertThrows(CompletionException.class, () -> read(d, 0, 1));
            assertTrue(BlockDeviceException.unwrap(e).getMessage().contains("timed out"), e.getMessage());
            server.signal("CONT");
            awaitConnected(d);
            assertArrayEquals(new byte[] {7}, read(d, 0, 1));
        }
    }

    @Test
    void killedServerFailsFastThenReconnectsWhenRestarted() throws Exception {
        Path socket = dir.resolve("k.sock");
        Path image = dir.resolve("k.img");
        java.nio.file.Files.write(image, new byte[1 << 20]);
        Nbdkit first = Nbdkit.start(socket, "file", image.toString());
        BlockDevice d = context.open(first.uri()).join();
        try {
            d.write(100, Unpooled.wrappedBuffer(new byte[] {9}), WriteFlags.FUA).join();
            first.process.destroyForcibly().waitFor();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (((NbdClientDevice) d).isConnected()) {
                assertTrue(System.nanoTime() < deadline, "the loss is noticed");
                Thread.sleep(10);
            }
            assertEquals(Errno.EIO, errnoOf(() -> read(d, 0, 1)), "fails fast while disconnected");
            try (Nbdkit second = Nbdkit.start(socket, "file", image.toString())) {
                awaitConnected(d);
                assertArrayEquals(new byte[] {9}, read(d, 100, 1));
            }
        } finally {
            d.close();
        }
    }

    @Test
    void unknownExportAndUnreachableServerAreClearErrors() throws Exception {
        try (Nbdkit server = Nbdkit.start(dir.resolve("x.sock"), "memory", "1M")) {
            CompletionException absent = assertThrows(CompletionException.class,
                    () -> context.open("nbd+unix:///nope?socket=" + dir.resolve("missing.sock")).join());
            assertTrue(absent.getMessage().contains("cannot connect"), absent.getMessage());
        }
    }
}
