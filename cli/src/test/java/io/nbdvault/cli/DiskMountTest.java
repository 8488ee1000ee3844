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
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The export used as a disk, the way a user without the nbd kernel module does it:
 * nbdfuse shows it as a file, mkfs.ext4 formats it, mount -o loop mounts it.
 */
@Timeout(300)
class DiskMountTest {
    @TempDir
    Path dir;

    @Test
    void ext4OnTheExportSurvivesUnmountRemountAndFsck() throws Exception {
        ExternalTool.requireRoot("mount -o loop and FUSE");
        String nbdfuse = ExternalTool.require("nbdfuse");
        String mkfs = ExternalTool.require("mkfs.ext4");
        String e2fsck = ExternalTool.require("e2fsck");
        String mount = ExternalTool.require("mount");
        String umount = ExternalTool.require("umount");
        String fusermount = ExternalTool.require("fusermount3");

        Path image = dir.resolve("backing.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(256L << 20);
        }
        Path socket = dir.resolve("nbd.sock");
        Path fuseDir = Files.createDirectories(dir.resolve("fuse"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path disk = fuseDir.resolve("disk");
        Path pidFile = dir.resolve("nbdfuse.pid");
        Process fuse = null;
        boolean mounted = false;
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(), image.toString())
                .awaitSocket(socket, Duration.ofSeconds(60))) {
            fuse = new ProcessBuilder(nbdfuse, "-P", pidFile.toString(), disk.toString(),
                    "nbd+unix:///?socket=" + socket).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("nbdfuse.log").toFile()).start();
            awaitFile(pidFile, fuse);
            Proc.run(120, mkfs, "-F", "-q", disk.toString()).assertOk();

            Proc.run(30, mount, "-o", "loop", disk.toString(), mnt.toString()).assertOk();
            mounted = true;
            String mounts = Files.readString(Path.of("/proc/mounts"));
            assertTrue(mounts.contains(mnt.toString() + " ext4"), "ext4 is mounted at " + mnt + ":\n" + mounts);
            List<String> sums = new ArrayList<>();
            Random random = new Random(11);
            for (int i = 0; i < 8; i++) {
                byte[] data = new byte[(1 + random.nextInt(4)) << 20];
                random.nextBytes(data);
                Files.write(mnt.resolve("file" + i), data);
                sums.add(sha256(mnt.resolve("file" + i)));
            }
            Proc.run(60, "sync").assertOk();
            Proc.run(60, umount, mnt.toString()).assertOk();
            mounted = false;

            Proc.Result fsck = Proc.run(120, e2fsck, "-fn", disk.toString());
            assertEquals(0, fsck.exitCode(), fsck.stdout() + fsck.stderr());

            Proc.run(30, mount, "-o", "loop,ro", disk.toString(), mnt.toString()).assertOk();
            mounted = true;
            for (int i = 0; i < 8; i++) {
                assertEquals(sums.get(i), sha256(mnt.resolve("file" + i)), "file" + i + " after remount");
            }
            Proc.run(60, umount, mnt.toString()).assertOk();
            mounted = false;
            Proc.run(30, fusermount, "-u", fuseDir.toString()).assertOk();
            assertTrue(fuse.waitFor(30, TimeUnit.SECONDS), "nbdfuse exits after unmount");
            int code = server.terminate(Duration.ofSeconds(30));
            assertTrue(code == 0 || code == 143, server.stderr());
        } finally {
            if (mounted) {
                Proc.run(30, "umount", "-l", mnt.toString());
            }
            if (fuse != null && fuse.isAlive()) {
                Proc.run(30, "fusermount3", "-u", "-z", fuseDir.toString());
                fuse.destroyForcibly();
            }
        }
        // The backing file itself holds the same clean file system: writes reached it, not a cache.
        Proc.Result fsck = Proc.run(120, e2fsck, "-fn", image.toString());
        assertEquals(0, fsck.exitCode(), fsck.stdout() + fsck.stderr());
    }

    private static void awaitFile(Path file, Process owner) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(file)) {
            if (!owner.isAlive()) {
                throw new AssertionError("nbdfuse exited early with " + owner.exitValue());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nbdfuse did not become ready");
            }
            Thread.sleep(50);
        }
    }

    static String sha256(Path p) throws Exception {
        return java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }
}
