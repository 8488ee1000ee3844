package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The export used as a disk: nbdfuse + mkfs.ext4 + mount -o loop, files survive a remount, fsck is clean. */
@Timeout(300)
class DiskMountTest {
    @TempDir
    Path dir;

    @Test
    void ext4OnTheExportSurvivesUnmountRemountAndFsck() throws Exception {
        ExternalTool.requireRoot("mount -o loop and FUSE");
        Path image = dir.resolve("backing.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(256L << 20);
        }
        Path socket = dir.resolve("nbd.sock");
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(), image.toString())
                .awaitSocket(socket, Duration.ofSeconds(60))) {
            try (FuseDisk disk = FuseDisk.attach(dir, "nbd+unix:///?socket=" + socket)) {
                disk.mkfs();
                disk.mount(false);
                List<String> sums = FuseDisk.writeFiles(disk.mountPoint(), 8, 11);
                disk.umount();
                disk.assertClean();
                disk.mount(true);
                FuseDisk.assertFiles(disk.mountPoint(), sums);
                disk.umount();
            }
            int code = server.terminate(Duration.ofSeconds(30));
            assertTrue(code == 0 || code == 143, server.stderr());
        }
        // The backing file itself holds the same clean file system: writes reached it, not a cache.
        FuseDisk.assertClean(image);
    }
}
