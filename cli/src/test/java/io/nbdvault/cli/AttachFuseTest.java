package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `nbdvault attach --fuse`: the fallback for kernels without nbd, end to end with ext4. */
@Timeout(300)
class AttachFuseTest {
    @TempDir
    Path dir;

    @Test
    void attachMkfsMountWriteUnmountDetachFsck() throws Exception {
        ExternalTool.requireRoot("FUSE and mount -o loop");
        ExternalTool.require("nbdfuse");
        ExternalTool.require("fusermount3");
        String mkfs = ExternalTool.require("mkfs.ext4");
        String e2fsck = ExternalTool.require("e2fsck");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(128L << 20);
        }
        Path fuseDir = Files.createDirectories(dir.resolve("fuse"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path disk = fuseDir.resolve("nbdvault");
        boolean mounted = false;
        try (NbdvaultProcess attach = NbdvaultProcess.start(dir, "attach", "--fuse", fuseDir.toString(), image.toString())
                .awaitLog("attached as", Duration.ofSeconds(60))) {
            assertEquals(128L << 20, Files.size(disk));
            Proc.run(120, mkfs, "-F", "-q", disk.toString()).assertOk();
            Proc.run(30, "mount", "-o", "loop", disk.toString(), mnt.toString()).assertOk();
            mounted = true;
            byte[] data = new byte[3 << 20];
            new java.util.Random(8).nextBytes(data);
            Files.write(mnt.resolve("payload"), data);
            Proc.run(60, "umount", mnt.toString()).assertOk();
            mounted = false;
            int code = attach.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, attach.stderr());
            assertTrue(attach.stderr().contains("detached cleanly"), attach.stderr());
            String mounts = Files.readString(Path.of("/proc/mounts"));
            assertTrue(!mounts.contains(fuseDir.toString()), "the FUSE mount is gone:\n" + mounts);
        } finally {
            if (mounted) {
                Proc.run(30, "umount", "-l", mnt.toString());
            }
            if (Files.readString(Path.of("/proc/mounts")).contains(fuseDir.toString())) {
                Proc.run(30, "fusermount3", "-u", "-z", fuseDir.toString());
            }
        }
        Proc.Result fsck = Proc.run(120, e2fsck, "-fn", image.toString());
        assertEquals(0, fsck.exitCode(), fsck.stdout() + fsck.stderr());
    }

    @Test
    void detachCommandEndsAnAttachment() throws Exception {
        ExternalTool.requireRoot("FUSE");
        ExternalTool.require("nbdfuse");
        ExternalTool.require("fusermount3");
        Path fuseDir = Files.createDirectories(dir.resolve("fuse2"));
        try (NbdvaultProcess attach = NbdvaultProcess.start(dir, "attach", "--fuse", fuseDir.toString(), "memory:16M")
                .awaitLog("attached as", Duration.ofSeconds(60))) {
            CliBasicsTest.Run detach = CliBasicsTest.run("detach", fuseDir.toString());
            assertEquals(0, detach.code(), detach.err());
            assertEquals(0, attach.waitFor(Duration.ofSeconds(60)), attach.stderr());
            assertTrue(attach.stderr().contains("detached cleanly"), attach.stderr());
        }
    }
}
