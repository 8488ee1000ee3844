package io.nbdvault.core;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FileDeviceTest extends io.nbdvault.testing.BlockDeviceContract {
    @TempDir
    Path dir;

    @Override
    protected BlockDevice newDevice(int size) throws Exception {
        return FileDevice.create(dir.resolve("disk.img"), size, FileSpace.NONE);
    }

    @Test
    void writesLandInTheFileAtTheirOffsets() throws Exception {
        write(4096, new byte[] {7, 8, 9});
        device.flush().join();
        byte[] file = Files.readAllBytes(dir.resolve("disk.img"));
        assertEquals(SIZE, file.length);
        assertArrayEquals(new byte[] {7, 8, 9}, java.util.Arrays.copyOfRange(file, 4096, 4099));
    }

    @Test
    void readOnlyDeviceRefusesWritesWithEperm() throws Exception {
        Path file = dir.resolve("ro.img");
        Files.write(file, new byte[4096]);
        try (FileDevice ro = FileDevice.open(file, true)) {
            var failure = assertThrows(java.util.concurrent.CompletionException.class,
                    () -> ro.write(0, Unpooled.wrappedBuffer(new byte[1]), WriteFlags.NONE).join());
            assertEquals(Errno.EPERM, BlockDeviceException.errnoOf(failure));
            assertEquals(true, ro.capabilities().readOnly());
        }
    }

    @Test
    void fastZeroWithoutHolePunchingIsRefusedRatherThanSlow() {
        var failure = assertThrows(java.util.concurrent.CompletionException.class,
                () -> device.writeZeroes(0, 4096, WriteFlags.FAST_ZERO).join());
        assertEquals(Errno.ENOTSUP, BlockDeviceException.errnoOf(failure));
    }

    @Test
    void trimFallsBackToZeroesWhenHolesCannotBePunched() {
        byte[] data = new byte[8192];
        java.util.Arrays.fill(data, (byte) 5);
        write(0, data);
        device.trim(0, 8192, WriteFlags.FUA).join();
        assertArrayEquals(new byte[8192], read(0, 8192));
    }

    @Test
    void anotherProcessCannotOpenALockedFileForWriting() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("locked", ".img");
        try (FileDevice held = FileDevice.create(file, 1 << 20, FileSpace.NONE)) {
            // flock(1) uses flock(2), which Linux does not relate to fcntl locks; this python uses fcntl too.
            Process other = new ProcessBuilder("/usr/bin/python3", "-c",
                    "import fcntl,sys\nf=open(sys.argv[1],'r+b')\ntry:\n fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\n"
                            + "except OSError:\n sys.exit(3)\nsys.exit(0)", file.toString()).start();
            org.junit.jupiter.api.Assertions.assertEquals(3, other.waitFor(), "the file is locked while open");
            // The same process may open it again (an array reopening a member).
            FileDevice.open(file, false).close();
        }
        Process after = new ProcessBuilder("/usr/bin/python3", "-c",
                "import fcntl,sys\nf=open(sys.argv[1],'r+b')\nfcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)", file.toString()).start();
        org.junit.jupiter.api.Assertions.assertEquals(0, after.waitFor(), "closing releases the lock");
        java.nio.file.Files.delete(file);
    }
}
