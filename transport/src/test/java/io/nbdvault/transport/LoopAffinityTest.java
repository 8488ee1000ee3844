package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import io.nbdvault.transport.iscsi.ChapSecrets;
import io.nbdvault.transport.nbd.NbdClientDevice;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Small requests issued on an event loop go to that loop's connection to the replica, so the NBD
 * server lent the same loops answers each on the thread that received it; large ones are spread.
 */
@Timeout(120)
class LoopAffinityTest {
    private static final int LOOPS = 3;

    @TempDir
    Path dir;

    private static TransportContext context() {
        return new TransportContext(NbdClientOptions.defaults(), p -> FileSpace.NONE, null, ChapSecrets.NONE, LOOPS);
    }

    private static List<EventLoop> loops(TransportContext context) {
        List<EventLoop> loops = new ArrayList<>();
        for (EventExecutor e : context.eventLoops()) {
            loops.add((EventLoop) e);
        }
        return loops;
    }

    /** Opens {@code uri} and waits until the replica has one connection per loop. */
    private static NbdClientDevice openAll(TransportContext context, String uri) throws InterruptedException {
        NbdClientDevice d = (NbdClientDevice) context.open(uri).join();
        awaitConnections(d, LOOPS);
        return d;
    }

    private static void awaitConnections(NbdClientDevice d, int count) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (d.openConnections() < count) {
            assertTrue(System.nanoTime() < deadline, count + " connections within 20 s: " + d.openConnections());
            Thread.sleep(10);
        }
    }

    /** Runs {@code requests} on {@code loop} and returns the threads their futures completed on. */
    private static Set<Thread> completingThreads(EventLoop loop, int count, java.util.function.Supplier<CompletableFuture<ByteBuf>> request) {
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        CompletableFuture<?>[] all = new CompletableFuture<?>[count];
        loop.submit(() -> {
            for (int i = 0; i < count; i++) {
                // Attached at once, so the callback runs where the reply was read, unless the reply
                // came first: it cannot on this loop's connection, as this loop is busy here.
                all[i] = request.get().whenComplete((data, error) -> {
                    threads.add(Thread.currentThread());
                    data.release();
                });
            }
        }).syncUninterruptibly();
        CompletableFuture.allOf(all).join();
        return threads;
    }

    @Test
    void smallRequestsStayOnTheCallingLoopAndLargeOnesAreSpread() throws Exception {
        try (Nbdkit replica = Nbdkit.start(dir.resolve("r.sock"), "memory", "16M");
             TransportContext context = context()) {
            NbdClientDevice d = openAll(context, replica.uri());
            for (EventLoop loop : loops(context)) {
                Set<Thread> threads = completingThreads(loop, 20, () -> d.read(0, 4096));
                assertEquals(1, threads.size(), "every 4 KiB read completed on one thread");
                loop.submit(() -> assertTrue(loop.inEventLoop(threads.iterator().next()))).syncUninterruptibly();
            }
            Set<Thread> large = completingThreads(loops(context).get(0), LOOPS, () -> d.read(0, 1 << 20));
            assertEquals(LOOPS, large.size(), "1 MiB reads issued together went out on every connection");
            d.close();
        }
    }

    @Test
    void fewerConnectionsThanLoopsWhereverTheFirstOneLands() throws Exception {
        try (Nbdkit replica = Nbdkit.start(dir.resolve("r.sock"), "memory", "16M");
             TransportContext context = new TransportContext(NbdClientOptions.defaults().withConnections(2),
                     p -> FileSpace.NONE, null, ChapSecrets.NONE, LOOPS)) {
            // The group hands out its loops in turn: one of these first connections lands on the last loop.
            List<NbdClientDevice> devices = new ArrayList<>();
            for (int i = 0; i < LOOPS; i++) {
                devices.add((NbdClientDevice) context.open(replica.uri()).join());
            }
            for (NbdClientDevice d : devices) {
                awaitConnections(d, 2);
                d.read(0, 4096).join().release();
                d.close();
            }
        }
    }

    /** Records whether each read of the replica completed on the thread that issued it. */
    private static final class SameThread extends ForwardingDevice {
        final AtomicInteger same = new AtomicInteger();
        final AtomicInteger other = new AtomicInteger();

        SameThread(BlockDevice below) {
            super(below);
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            Thread caller = Thread.currentThread();
            return below.read(offset, length).whenComplete((data, error) ->
                    (Thread.currentThread() == caller ? same : other).incrementAndGet());
        }
    }

    @Test
    void aServerLentTheReplicaLoopsAnswersOnTheThreadThatReceived() throws Exception {
        try (Nbdkit replica = Nbdkit.start(dir.resolve("r.sock"), "memory", "16M");
             TransportContext replicas = context();
             TransportContext clients = context()) {
            NbdClientDevice d = openAll(replicas, replica.uri());
            SameThread exported = new SameThread(d);
            Path socket = dir.resolve("front.sock");
            NbdServer server = NbdServer.builder().eventLoops(replicas.eventLoops())
                    .export(new NbdExport("", "test", exported, false)).listenUnix(socket).start();
            NbdClientDevice front = openAll(clients, "nbd+unix:///?socket=" + socket);
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                reads.add(front.read(4096L * (i % 64), 4096));
            }
            reads.forEach(r -> r.join().release());
            assertEquals(300, exported.same.get() + exported.other.get());
            assertEquals(0, exported.other.get(), "reads answered by the replica on another thread");

            server.close();
            assertFalse(replicas.eventLoops().isShuttingDown(), "the server does not shut down loops it was lent");
            ByteBuf after = d.read(0, 4096).join();
            after.release();
            front.close();
            d.close();
        }
    }
}
