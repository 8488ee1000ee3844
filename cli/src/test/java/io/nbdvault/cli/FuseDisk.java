package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An NBD export used as a disk the way a user without the nbd kernel module does it: nbdfuse
 * shows it as a file, mkfs.ext4 formats it, mount -o loop mounts it. Needs root.
 */
public final class FuseDisk implements AutoCloseable {
    private final Path fuseDir;
    private final Path mnt;
    private final Process fuse;
    private boolean mounted;

    private FuseDisk(Path fuseDir, Path mnt, Process fuse) {
        this.fuseDir = fuseDir;
        this.mnt = mnt;
        this.fuse = fuse;
    }

    public static FuseDisk attach(Path dir, String nbdUri) throws Exception {
        ExternalTool.requireRoot("mount -o loop and FUSE");
        Path fuseDir = Files.createDirectories(dir.resolve("fuse"));
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path pidFile = dir.resolve("nbdfuse.pid");
        Files.deleteIfExists(pidFile);
        Process fuse = new ProcessBuilder(ExternalTool.require("nbdfuse"), "-P", pidFile.toString(),
                fuseDir.resolve("disk").toString(), nbdUri).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("nbdfuse.log").toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(pidFile)) {
            if (!fuse.isAlive()) {
                throw new AssertionError("nbdfuse exited early with " + fuse.exitValue() + ": "
                        + Files.readString(dir.resolve("nbdfuse.log")));
            }
            assertTrue(System.nanoTime() < deadline, "nbdfuse became ready");
            Thread.sleep(50);
        }
        return new FuseDisk(fuseDir, mnt, fuse);
    }

    public Path disk() {
        return fuseDir.resolve("disk");
    }

    public Path mountPoint() {
        return mnt;
    }

    public void mkfs() throws Exception {
        Proc.run(120, ExternalTool.require("mkfs.ext4"), "-F", "-q", disk().toString()).assertOk();
    }

    public void mount(boolean readOnly) throws Exception {
        Proc.run(30, ExternalTool.require("mount"), "-o", readOnly ? "loop,ro" : "loop", disk().toString(), mnt.toString())
                .assertOk();
        mounted = true;
        String mounts = Files.readString(Path.of("/proc/mounts"));
        assertTrue(mounts.contains(mnt + " ext4"), "ext4 is mounted at " + mnt + ":\n" + mounts);
    }

    public void umount() throws Exception {
        Proc.run(60, "sync").assertOk();
        Proc.run(60, ExternalTool.require("umount"), mnt.toString()).assertOk();
        mounted = false;
    }

    /** e2fsck -fn on the disk: fails the test unless the file system is clean. */
    public void assertClean() throws Exception {
        assertClean(disk());
    }

    public static void assertClean(Path image) throws Exception {
        Proc.Result fsck = Proc.run(120, ExternalTool.require("e2fsck"), "-fn", image.toString());
        assertEquals(0, fsck.exitCode(), fsck.stdout() + fsck.stderr());
    }

    public static String sha256(Path p) throws Exception {
        return java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** Unmounts (if mounted) and detaches nbdfuse; waits for it to exit. */
    @Override
    public void close() throws Exception {
        if (mounted) {
            Proc.run(30, "umount", "-l", mnt.toString());
            mounted = false;
        }
        if (fuse.isAlive()) {
            Proc.run(30, ExternalTool.require("fusermount3"), "-u", fuseDir.toString());
            if (!fuse.waitFor(30, TimeUnit.SECONDS)) {
                Proc.run(30, "fusermount3", "-u", "-z", fuseDir.toString());
                fuse.destroyForcibly();
            }
        }
    }

    /** Writes {@code n} files of 1–4 MiB of random data; returns their SHA-256 sums. */
    public static List<String> writeFiles(Path mnt, int n, long seed) throws Exception {
        List<String> sums = new ArrayList<>();
        Random random = new Random(seed);
        for (int i = 0; i < n; i++) {
            byte[] data = new byte[(1 + random.nextInt(4)) << 20];
            random.nextBytes(data);
            Files.write(mnt.resolve("file" + i), data);
            sums.add(sha256(mnt.resolve("file" + i)));
        }
        return sums;
    }

    public static void assertFiles(Path mnt, List<String> sums) throws Exception {
        for (int i = 0; i < sums.size(); i++) {
            assertEquals(sums.get(i), sha256(mnt.resolve("file" + i)), "file" + i);
        }
    }
}
