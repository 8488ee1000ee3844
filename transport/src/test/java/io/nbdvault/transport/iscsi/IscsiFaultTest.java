package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;
import io.nbdvault.transport.TransportContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.nbdvault.transport.iscsi.IscsiTargets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong secrets, a target killed and restarted, a LUN removed, a silent target and hostile replies. */
class IscsiFaultTest {
    static {
        LeakCheck.paranoid();
    }

    @TempDir
    static Path dir;

    @AfterAll
    static void leaks() throws Exception {
        LeakCheck.assertNoLeaks();
    }

    private static Throwable openFails(TransportContext ctx, String uri, long withinMillis) {
        long start = System.nanoTime();
        ExecutionException e = assertThrows(ExecutionException.class, () -> ctx.open(uri).get(30, TimeUnit.SECONDS));
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(took < withinMillis, "failing took " + took + " ms");
        return BlockDeviceException.unwrap(e.getCause());
    }

    @Test
    void wrongSecretsFailClearlyAndWriteNothing() throws Exception {
        try (Tgtd tgtd = Tgtd.start(dir); TransportContext ctx = context(Duration.ofSeconds(5))) {
            Path lun = lunFile(dir, "chap.img");
            String iqn = "iqn.2024-01.io.nbdvault.test:chap";
            tgtd.target(1, iqn, lun, 512).account(1, "alice", "rightsecret1", false).account(1, "tgt", "targetsecret", true);
            Throwable wrong = openFails(ctx, "iscsi://alice%wrongsecret1@" + tgtd.portal() + "/" + iqn + "/1", 10_000);
            assertTrue(wrong.getMessage().contains("authentication failed"), wrong.getMessage());
            assertTrue(wrong.getMessage().contains("alice:***@127.0.0.1"), wrong.getMessage());
            assertFalse(wrong.getMessage().contains("wrongsecret1"), wrong.getMessage());
            assertEquals(Errno.EPERM, ((BlockDeviceException) wrong).errno());

            Throwable target = openFails(ctx, "iscsi://alice%rightsecret1@" + tgtd.portal() + "/" + iqn
                    + "/1?target_user=tgt&target_password=notthetargets", 10_000);
            assertTrue(target.getMessage().contains("mutual CHAP"), target.getMessage());
            assertFalse(target.getMessage().contains("notthetargets"), target.getMessage());

            Throwable none = openFails(ctx, tgtd.uri(iqn, 1), 10_000);
            assertTrue(none.getMessage().contains("failed"), none.getMessage());
            assertEquals(sha256(new byte[(int) LUN_SIZE]), sha256(lun), "nothing was written");
        }
    }

    /**
     * tgtd killed under load and restarted within the request timeout: the commands in flight and
     * those issued meanwhile wait for the new session and are issued again on it; none fails, and
     * the LUN ends up as the model says.
     */
    @Test
    void commandsWaitOutAReconnection() throws Exception {
        try (Tgtd tgtd = Tgtd.start(dir); TransportContext ctx = context(Duration.ofSeconds(20))) {
            Path lun = lunFile(dir, "waiting.img");
            String iqn = "iqn.2024-01.io.nbdvault.test:waiting";
            tgtd.target(1, iqn, lun, 4096);
            try (BlockDevice d = open(ctx, tgtd.uri(iqn, 1))) {
                IscsiDevice device = (IscsiDevice) d;
                byte[] model = workout(d, 5);
                Negotiated first = device.negotiated();
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                java.util.concurrent.atomic.AtomicInteger rounds = new java.util.concurrent.atomic.AtomicInteger();
                java.util.concurrent.CompletableFuture<Void> load = java.util.concurrent.CompletableFuture.runAsync(() -> {
                    try {
                        for (long seed = 100; !stop.get(); seed++) {
                            workout(d, seed, model); // writes in flight, then everything read back and compared
                            rounds.incrementAndGet();
                        }
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
                Thread.sleep(300);
                tgtd.kill();
                int atKill = rounds.get();
                Thread.sleep(1500); // the load goes on issuing commands to a target that is gone
                tgtd.restart();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (rounds.get() < atKill + 3 && !load.isDone()) {
                    assertTrue(System.nanoTime() < deadline, "the load did not go on after the restart");
                    Thread.sleep(50);
                }
                stop.set(true);
                load.get(60, TimeUnit.SECONDS); // no command failed
                assertTrue(device.negotiated() != first, "a new session");
                d.flush().get(10, TimeUnit.SECONDS);
                assertEquals(sha256(model), sha256(lun), "the backing file");
            }
        }
    }

    /** A target that stays away longer than the request timeout: commands fail at their deadline, not before. */
    @Test
    void commandsFailAtTheirDeadlineWhenTheTargetStaysAway() throws Exception {
        try (Tgtd tgtd = Tgtd.start(dir); TransportContext ctx = context(Duration.ofSeconds(2))) {
            Path lun = lunFile(dir, "restart.img");
            String iqn = "iqn.2024-01.io.nbdvault.test:restart";
            tgtd.target(1, iqn, lun, 4096);
            try (BlockDevice d = open(ctx, tgtd.uri(iqn, 1))) {
                byte[] model = workout(d, 5);
                tgtd.kill();
                ByteBuf block = Unpooled.wrappedBuffer(new byte[4096]);
                long start = System.nanoTime();
                ExecutionException lost = assertThrows(ExecutionException.class,
                        () -> d.write(0, block, 0).get(20, TimeUnit.SECONDS));
                long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue(took >= 1900 && took < 5000, "failed after " + took + " ms");
                assertEquals(Errno.EIO, BlockDeviceException.errnoOf(lost));
                assertTrue(lost.getCause().getMessage().contains("timed out"), lost.getCause().getMessage());
                tgtd.restart();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!((IscsiDevice) d).isConnected()) {
                    assertTrue(System.nanoTime() < deadline, "no new session within 30 s");
                    Thread.sleep(50);
                }
                assertEquals(sha256(model), sha256(lun), "the backing file after the restart");
                assertImage(d, model);
                model = workout(d, 6, model);
                d.flush().get(10, TimeUnit.SECONDS);
                assertEquals(sha256(model), sha256(lun));
            }
        }
    }

    /** NOP-Out keeps an idle session honest: answered while the target lives, fatal when it hangs. */
    @Test
    void idleLinkIsProbedAndAHungTargetNoticed() throws Exception {
        try (Tgtd tgtd = Tgtd.start(dir); TransportContext ctx = context(Duration.ofMillis(1500))) {
            Path lun = lunFile(dir, "idle.img");
            String iqn = "iqn.2024-01.io.nbdvault.test:idle";
            tgtd.target(1, iqn, lun, 512);
            try (BlockDevice d = open(ctx, tgtd.uri(iqn, 1))) {
                IscsiDevice device = (IscsiDevice) d;
                Negotiated before = device.negotiated();
                Thread.sleep(3000); // several keep-alive intervals with nothing to do
                assertTrue(device.isConnected());
                assertTrue(before == device.negotiated(), "the same session, not a new one");
                tgtd.signal("STOP");
                long start = System.nanoTime();
                // a command to a hung target fails at its deadline (then ABORT TASK goes unanswered too)
                ExecutionException hung = assertThrows(ExecutionException.class,
                        () -> d.read(8192, 4096).get(20, TimeUnit.SECONDS));
                assertEquals(Errno.EIO, BlockDeviceException.errnoOf(hung.getCause()));
                assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 4000, "failed at its deadline");
                while (device.isConnected()) {
                    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(6), "a hung target is noticed");
                    Thread.sleep(20);
                }
                tgtd.signal("CONT");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!device.isConnected()) {
                    assertTrue(System.nanoTime() < deadline, "no new session within 30 s");
                    Thread.sleep(50);
                }
                d.read(0, 4096).get(10, TimeUnit.SECONDS).release();
            }
        }
    }

    @Test
    void removedLunFailsItsCommands() throws Exception {
        try (Tgtd tgtd = Tgtd.start(dir); TransportContext ctx = context(Duration.ofSeconds(5))) {
            Path lun = lunFile(dir, "removed.img");
            String iqn = "iqn.2024-01.io.nbdvault.test:removed";
            tgtd.target(1, iqn, lun, 512);
            try (BlockDevice d = open(ctx, tgtd.uri(iqn, 1))) {
                d.read(0, 4096).get(10, TimeUnit.SECONDS).release();
                tgtd.removeLun(1, 1);
                ExecutionException e = assertThrows(ExecutionException.class, () -> d.read(0, 4096).get(20, TimeUnit.SECONDS));
                Throwable cause = BlockDeviceException.unwrap(e.getCause());
                assertTrue(cause instanceof BlockDeviceException, cause.toString());
                assertTrue(cause.getMessage().contains(iqn), cause.getMessage());
            }
        }
    }

    @Test
    void aTargetThatNeverAnswersTheLoginHitsTheDeadline() throws Exception {
        try (FakeTarget fake = FakeTarget.silent(); TransportContext ctx = context(Duration.ofMillis(1500))) {
            Throwable e = openFails(ctx, fake.uri(), 5000);
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
        }
    }

    /**
     * Closing the context while a login waits on a target that sent half a PDU: the connection is
     * closed while its event loop still runs, before the loops stop, so the login hears of it then
     * and the decoder lets go of the bytes it held (the leak check after the class); several times
     * over, half of them with the target hanging up just as the context closes.
     */
    @Test
    void closingTheContextEndsItsConnectionsFirst() throws Exception {
        try (FakeTarget fake = FakeTarget.greeting(new byte[20])) {
            for (int i = 0; i < 6; i++) {
                try (TransportContext ctx = context(Duration.ofSeconds(30))) {
                    java.util.concurrent.CompletableFuture<BlockDevice> open = ctx.open(fake.uri());
                    java.util.concurrent.CompletableFuture<Boolean> loopsStopping = open.handle((d, e) -> {
                        for (io.netty.util.concurrent.EventExecutor loop : ctx.eventLoops()) {
                            if (loop.inEventLoop()) {
                                return loop.isShuttingDown();
                            }
                        }
                        throw new AssertionError("the login did not end on its event loop");
                    });
                    Thread.sleep(200); // connected, the 20 bytes received, the login waiting for the rest
                    assertFalse(open.isDone(), open::toString);
                    if (i % 2 == 1) {
                        fake.hangUp(); // the target's hang-up races the close, as when a test ends
                    }
                    ctx.close();
                    ExecutionException e = assertThrows(ExecutionException.class, () -> open.get(5, TimeUnit.SECONDS));
                    assertTrue(BlockDeviceException.unwrap(e.getCause()) instanceof BlockDeviceException, e.toString());
                    assertFalse(loopsStopping.get(), "the login heard of the close only once the event loops were stopping");
                    // and a closed context makes no new connection (a replica's reconnection, say)
                    ExecutionException late = assertThrows(ExecutionException.class,
                            () -> ctx.open(fake.uri()).get(5, TimeUnit.SECONDS));
                    assertTrue(BlockDeviceException.unwrap(late.getCause()).getMessage().contains("connections are closed"),
                            late.toString());
                }
            }
        }
    }

    /** A target that sends a PDU before it is asked anything: the login fails with what it sent, at once. */
    @Test
    void aTargetThatSpeaksFirstFailsTheLogin() throws Exception {
        byte[] nopIn = new byte[48];
        nopIn[0] = Pdu.NOP_IN;
        nopIn[1] = (byte) 0x80;
        try (FakeTarget fake = FakeTarget.greeting(nopIn); TransportContext ctx = context(Duration.ofSeconds(30))) {
            Throwable e = openFails(ctx, fake.uri(), 5000);
            assertTrue(e instanceof BlockDeviceException, e.toString());
            assertTrue(e.getMessage().contains("login to " + fake.uri().substring(0, fake.uri().indexOf('/', 9))), e.getMessage());
            // whether the NOP-In came before our login request went out or after, it is named
            assertTrue(e.getMessage().contains("opcode 0x20"), e.getMessage());
        }
    }

    @Test
    void hostileRepliesFailCleanly() throws Exception {
        FakeTarget.Reply[] hostile = {
            // an opcode no target sends
            cmd -> FakeTarget.header(cmd, 0x1c, 0x80, 0).array(),
            // a data segment far beyond our MaxRecvDataSegmentLength
            cmd -> FakeTarget.header(cmd, Pdu.DATA_IN, 0x81, 0xfffff0).array(),
            // a response for a task tag never issued
            cmd -> FakeTarget.header(cmd, Pdu.SCSI_RESPONSE, 0x80, 0).putInt(16, 0x7777).array(),
            // Data-In beyond the end of the read
            cmd -> {
                ByteBuffer r = ByteBuffer.allocate(48 + 8);
                r.put(FakeTarget.header(cmd, Pdu.DATA_IN, 0x81, 8).putInt(40, 1 << 20).array());
                return r.array();
            },
            // an R2T for a command that writes nothing
            cmd -> FakeTarget.header(cmd, Pdu.R2T, 0x80, 0).putInt(44, 4096).array(),
            // a truncated PDU and then silence
            cmd -> new byte[20],
        };
        try (TransportContext ctx = context(Duration.ofMillis(2000))) {
            for (FakeTarget.Reply reply : hostile) {
                try (FakeTarget fake = FakeTarget.answering(reply)) {
                    Throwable e = openFails(ctx, fake.uri(), 8000);
                    assertTrue(e instanceof BlockDeviceException, e.toString());
                }
            }
        }
    }
}
