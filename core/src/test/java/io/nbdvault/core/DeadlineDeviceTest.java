package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Timeout(30)
class DeadlineDeviceTest extends io.nbdvault.testing.BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(int size) {
        return new DeadlineDevice(new MemoryDevice(size), Duration.ofSeconds(5));
    }

    /** A device whose reads answer only when the test says so. */
    static final class Held extends ForwardingDevice {
        final CompletableFuture<ByteBuf> pending = new CompletableFuture<>();

        Held() {
            super(new MemoryDevice(1 << 20));
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            return pending;
        }
    }

    @Test
    void aReadPastItsDeadlineFailsAndItsLateBufferIsReleased() {
        Held held = new Held();
        DeadlineDevice d = new DeadlineDevice(held, Duration.ofMillis(50));
        CompletableFuture<ByteBuf> read = d.read(0, 4096);
        CompletionException e = assertThrows(CompletionException.class, read::join);
        assertInstanceOf(TimeoutException.class, e.getCause());
        ByteBuf late = PooledByteBufAllocator.DEFAULT.directBuffer(4096).writeZero(4096);
        held.pending.complete(late);
        assertEquals(0, late.refCnt(), "the answer nobody waits for any more is released");
    }

    @Test
    void theTimeoutNamesTheRequestAndTheDevice() {
        DeadlineDevice d = new DeadlineDevice(new Held(), Duration.ofMillis(50), "nbd://replica-2");
        CompletionException e = assertThrows(CompletionException.class, () -> d.read(8192, 4096).join());
        assertEquals("read 8192+4096 on nbd://replica-2: no answer within 50 ms", e.getCause().getMessage());
    }

    @Test
    void aWriteTimeoutNamesTheLengthTheCallerGaveEvenOnceItsBufferIsGone() {
        BlockDevice silent = new ForwardingDevice(new MemoryDevice(1 << 20)) {
            @Override
            public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
                return new CompletableFuture<>();
            }
        };
        DeadlineDevice d = new DeadlineDevice(silent, Duration.ofMillis(50), "member");
        ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(512).writeZero(512);
        CompletableFuture<Void> write = d.write(4096, data, 0);
        data.release();
        CompletionException e = assertThrows(CompletionException.class, write::join);
        assertEquals("write 4096+512 on member: no answer within 50 ms", e.getCause().getMessage());
    }

    @Test
    void theDeviceBelowKeepsItsOwnFuture() {
        Held held = new Held();
        DeadlineDevice d = new DeadlineDevice(held, Duration.ofMillis(50));
        assertThrows(CompletionException.class, () -> d.read(0, 4096).join());
        assertFalse(held.pending.isDone(), "the deadline completes the caller's future, not the device's");
        held.pending.complete(PooledByteBufAllocator.DEFAULT.directBuffer(1).writeByte(1));
    }

    @Test
    void aTimelyAnswerGoesToTheCaller() {
        Held held = new Held();
        DeadlineDevice d = new DeadlineDevice(held, Duration.ofSeconds(5));
        CompletableFuture<ByteBuf> read = d.read(0, 1);
        held.pending.complete(PooledByteBufAllocator.DEFAULT.directBuffer(1).writeByte(7));
        ByteBuf got = read.join();
        assertEquals(7, got.getByte(0));
        assertEquals(1, got.refCnt());
        got.release();
    }
}
