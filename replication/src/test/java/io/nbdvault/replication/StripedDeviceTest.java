package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class StripedDeviceTest {
    static final int CHUNK = 64 * 1024;

    @Test
    void chunksRotateAcrossGroups() {
        List<MemoryDevice> groups = List.of(new MemoryDevice(1 << 20), new MemoryDevice(1 << 20), new MemoryDevice(1 << 20));
        StripedDevice stripe = new StripedDevice(List.copyOf(groups), CHUNK);
        assertEquals(3L << 20, stripe.size());
        byte[] data = new byte[4 * CHUNK];
        for (int i = 0; i < 4; i++) {
            java.util.Arrays.fill(data, i * CHUNK, (i + 1) * CHUNK, (byte) (i + 1));
        }
        stripe.write(0, Unpooled.wrappedBuffer(data), 0).join();
        assertEquals(1, io.nbdvault.testing.Devices.read(groups.get(0), 0, 1)[0]);
        assertEquals(2, io.nbdvault.testing.Devices.read(groups.get(1), 0, 1)[0]);
        assertEquals(3, io.nbdvault.testing.Devices.read(groups.get(2), 0, 1)[0]);
        assertEquals(4, io.nbdvault.testing.Devices.read(groups.get(0), CHUNK, 1)[0], "chunk 3 wraps to group 0, second chunk");
    }

    @Test
    void randomIoMatchesAFlatModel() {
        List<BlockDevice> groups = List.of(new MemoryDevice(2 << 20), new MemoryDevice(2 << 20));
        StripedDevice stripe = new StripedDevice(groups, CHUNK);
        byte[] model = new byte[(int) stripe.size()];
        Random random = new Random(7);
        for (int i = 0; i < 300; i++) {
            int length = 1 + random.nextInt(300_000);
            int offset = random.nextInt(model.length - length);
            switch (random.nextInt(3)) {
                case 0 -> {
                    byte[] d = new byte[length];
                    random.nextBytes(d);
                    stripe.write(offset, Unpooled.wrappedBuffer(d), 0).join();
                    System.arraycopy(d, 0, model, offset, length);
                }
                case 1 -> {
                    stripe.writeZeroes(offset, length, 0).join();
                    java.util.Arrays.fill(model, offset, offset + length, (byte) 0);
                }
                default -> assertArrayEquals(java.util.Arrays.copyOfRange(model, offset, offset + length),
                        io.nbdvault.testing.Devices.read(stripe, offset, length));
            }
        }
        assertArrayEquals(model, io.nbdvault.testing.Devices.read(stripe, 0, model.length));
    }

    @Test
    void mirrorsUnderAStripe() {
        List<BlockDevice> groups = List.of(
                new MirroredDevice(CopySet.over(List.of(new MemoryDevice(1 << 20), new MemoryDevice(1 << 20)),
                        java.time.Duration.ofSeconds(5), MirrorListener.NONE)),
                new MirroredDevice(CopySet.over(List.of(new MemoryDevice(1 << 20), new MemoryDevice(1 << 20)),
                        java.time.Duration.ofSeconds(5), MirrorListener.NONE)));
        StripedDevice volume = new StripedDevice(groups, CHUNK);
        byte[] data = new byte[(int) volume.size()];
        new Random(9).nextBytes(data);
        volume.write(0, Unpooled.wrappedBuffer(data), 0).join();
        ((MirroredDevice) groups.get(1)).copies().fail(0, new RuntimeException("test"));
        assertArrayEquals(data, io.nbdvault.testing.Devices.read(volume, 0, data.length));
    }
}
