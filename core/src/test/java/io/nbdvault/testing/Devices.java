package io.nbdvault.testing;

import io.nbdvault.core.BlockDevice;
import io.netty.buffer.ByteBuf;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Small helpers for tests that look at what a device holds. */
public final class Devices {
    private Devices() {
    }

    /** Reads a range synchronously, checks the length, releases the buffer and returns the bytes. */
    public static byte[] read(BlockDevice device, long offset, int length) {
        ByteBuf buf = device.read(offset, length).join();
        try {
            assertEquals(length, buf.readableBytes(), "read returns exactly the requested length");
            byte[] out = new byte[length];
            buf.getBytes(buf.readerIndex(), out);
            return out;
        } finally {
            buf.release();
        }
    }
}
