package io.nbdvault.testing;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Extent;
import io.nbdvault.core.WriteFlags;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour every writable BlockDevice must show, checked against a byte-array model. */
public abstract class BlockDeviceContract {
    protected static final int SIZE = 4 << 20;

    protected BlockDevice device;
    protected byte[] model;

    protected abstract BlockDevice newDevice(int size) throws Exception;

    @BeforeEach
    public void setUp() throws Exception {
        device = newDevice(SIZE);
        model = new byte[SIZE];
    }

    @AfterEach
    public void tearDown() {
        device.close();
    }

    protected byte[] read(long offset, int length) {
        return io.nbdvault.testing.Devices.read(device, offset, length);
    }

    protected void write(long offset, byte[] data) {
        device.write(offset, Unpooled.wrappedBuffer(data), WriteFlags.NONE).join();
        System.arraycopy(data, 0, model, (int) offset, data.length);
    }

    @Test
    void newDeviceReadsZeroes() {
        assertArrayEquals(new byte[8192], read(SIZE - 8192, 8192));
    }

    @Test
    void randomWritesReadBackAsTheModel() {
        Random random = new Random(42);
        for (int i = 0; i < 200; i++) {
            int length = 1 + random.nextInt(200_000);
            int offset = random.nextInt(SIZE - length);
            byte[] data = new byte[length];
            random.nextBytes(data);
            write(offset, data);
        }
        assertArrayEquals(model, read(0, SIZE));
    }

    @Test
    void writeDoesNotMoveTheCallersIndices() {
        ByteBuf data = Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4});
        device.write(100, data, WriteFlags.FUA).join();
        assertEquals(0, data.readerIndex());
        assertEquals(4, data.readableBytes());
    }

    @Test
    void writeZeroesReadBackAsZeroesAndTrimLeavesTheRestAlone() {
        byte[] ones = new byte[300_000];
        java.util.Arrays.fill(ones, (byte) 1);
        write(10_000, ones);
        // What a trimmed range reads back is unspecified (an encrypted layer returns noise): only
        // the bytes around it are checked.
        device.trim(65_536, 131_072, WriteFlags.NONE).join();
        device.writeZeroes(20_001, 1000, WriteFlags.NO_HOLE).join();
        device.writeZeroes(250_000, 5000, WriteFlags.NONE).join();
        java.util.Arrays.fill(model, 20_001, 21_001, (byte) 0);
        java.util.Arrays.fill(model, 250_000, 255_000, (byte) 0);
        device.flush().join();
        assertArrayEquals(java.util.Arrays.copyOf(model, 65_536), read(0, 65_536));
        assertArrayEquals(java.util.Arrays.copyOfRange(model, 196_608, 400_000), read(196_608, 400_000 - 196_608));
    }

    @Test
    void blockStatusCoversTheRangeWithoutGaps() {
        write(1 << 20, new byte[] {9});
        List<Extent> extents = device.blockStatus(0, SIZE).join();
        long covered = extents.stream().mapToLong(Extent::length).sum();
        assertTrue(covered > 0 && covered <= SIZE, "extents cover 1.." + SIZE + " bytes, got " + covered);
        long pos = 0;
        boolean dataSeen = false;
        for (Extent e : extents) {
            if (pos <= (1 << 20) && (1 << 20) < pos + e.length()) {
                assertEquals(0, e.flags() & Extent.HOLE, "the written byte lies in an allocated extent");
                dataSeen = true;
            }
            pos += e.length();
        }
        assertTrue(dataSeen || covered <= (1 << 20));
    }

    @Test
    void manyRequestsInFlightAtOnceAllLand() {
        Random random = new Random(7);
        List<java.util.concurrent.CompletableFuture<Void>> writes = new java.util.ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] data = new byte[65_536];
            random.nextBytes(data);
            int offset = i * 65_536;
            System.arraycopy(data, 0, model, offset, data.length);
            writes.add(device.write(offset, Unpooled.wrappedBuffer(data), i % 8 == 0 ? WriteFlags.FUA : WriteFlags.NONE));
        }
        java.util.concurrent.CompletableFuture.allOf(writes.toArray(java.util.concurrent.CompletableFuture[]::new)).join();
        device.flush().join();
        List<java.util.concurrent.CompletableFuture<ByteBuf>> reads = new java.util.ArrayList<>();
        for (int i = 0; i < 64; i++) {
            reads.add(device.read(i * 65_536L, 65_536));
        }
        for (int i = 0; i < 64; i++) {
            ByteBuf got = reads.get(i).join();
            try {
                byte[] bytes = new byte[65_536];
                got.getBytes(got.readerIndex(), bytes);
                assertArrayEquals(java.util.Arrays.copyOfRange(model, i * 65_536, (i + 1) * 65_536), bytes, "request " + i);
            } finally {
                got.release();
            }
        }
    }
}
