package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.BlockDeviceContract;
import org.junit.jupiter.api.Nested;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

/** Every replication layer keeps the block-device contract, healthy and degraded. */
class LayerContractTest {
    static CopySet copies(int n, int size) {
        List<BlockDevice> devices = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            devices.add(new MemoryDevice(size));
        }
        return CopySet.over(devices, Duration.ofSeconds(10), MirrorListener.NONE);
    }

    @Nested
    class Mirrored extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) {
            return new MirroredDevice(copies(3, size));
        }
    }

    @Nested
    class MirroredDegraded extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) {
            CopySet set = copies(3, size);
            set.fail(1, new IOException("taken out for the test"));
            return new MirroredDevice(set);
        }
    }

    @Nested
    class Striped extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) {
            return new StripedDevice(List.of(new MemoryDevice(size / 4), new MemoryDevice(size / 4), new MemoryDevice(size / 4),
                    new MemoryDevice(size / 4)), 64 * 1024);
        }
    }

    /** The whole replicated array: two groups of three copies, with its bitmap and control thread. */
    @Nested
    class Array extends BlockDeviceContract {
        ReplicatedArray array;

        @Override
        protected BlockDevice newDevice(int size) throws IOException {
            ArrayGeometry g = new ArrayGeometry(2, 3, 64 * 1024, size);
            array = ReplicatedArray.create(ReplicatedArrayTest.members(6, g.memberSize()), g, WriteIntentBitmapTest.FAST);
            ReplicatedArray owner = array;
            return new ForwardingDevice(array.volume()) {
                @Override
                public void close() {
                    owner.close();
                }
            };
        }
    }

    /** The same with integrity tags (4 KiB blocks: the contract's smaller writes are read-modify-written). */
    @Nested
    class ArrayWithIntegrity extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) throws IOException {
            ArrayGeometry g = new ArrayGeometry(2, 3, 64 * 1024, size, 4096);
            ReplicatedArray array = ReplicatedArray.create(ReplicatedArrayTest.members(6, g.memberSize()), g,
                    WriteIntentBitmapTest.FAST);
            array.enableIntegrity(java.nio.ByteBuffer.wrap(IntegrityTest.KEY));
            return new ForwardingDevice(array.volume()) {
                @Override
                public void close() {
                    array.close();
                }
            };
        }
    }
}
