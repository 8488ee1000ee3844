package io.nbdvault.core;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MemoryDeviceTest extends io.nbdvault.testing.BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(int size) {
        return new MemoryDevice(size);
    }

    @Test
    void unwrittenPagesAreHolesAndTrimmedPagesBecomeHolesAgain() {
        write(MemoryDevice.PAGE_SIZE, new byte[MemoryDevice.PAGE_SIZE]);
        List<Extent> extents = device.blockStatus(0, 3L * MemoryDevice.PAGE_SIZE).join();
        assertEquals(List.of(Extent.hole(MemoryDevice.PAGE_SIZE), Extent.data(MemoryDevice.PAGE_SIZE),
                Extent.hole(MemoryDevice.PAGE_SIZE)), extents);
        device.trim(MemoryDevice.PAGE_SIZE, MemoryDevice.PAGE_SIZE, WriteFlags.NONE).join();
        assertEquals(List.of(Extent.hole(3L * MemoryDevice.PAGE_SIZE)),
                device.blockStatus(0, 3L * MemoryDevice.PAGE_SIZE).join());
    }

    @Test
    void hugeSparseDeviceCostsNothingUntilWritten() {
        try (MemoryDevice big = new MemoryDevice(1L << 40)) {
            assertEquals(1L << 40, big.size());
            assertEquals(List.of(Extent.hole(1L << 30)), big.blockStatus(0, 1L << 30).join());
        }
    }

    @Test
    void refusesNegativeSize() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryDevice(-1));
    }
}
