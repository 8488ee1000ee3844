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

/** `nbdvault attach /dev/nbdN` through the kernel's NBD ioctls. */
@Timeout(300)
class AttachKernelTest {
    private static final Path NBD0 = Path.of("/dev/nbd0");

    @TempDir
    Path dir;

    @Test
    void withoutTheDriverTheErrorSaysHowToFixIt() {
        org.junit.jupiter.api.Assumptions.assumeTrue(!Files.exists(Path.of("/dev/nbd15")),
                "this machine has nbd devices; the missing-driver message cannot be provoked");
        CliBasicsTest.Run run = CliBasicsTest.run("attach", "/dev/nbd15", "memory:1M");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("modprobe nbd"), run.err());
    }

    @Test
    void attachMkfsMountReadBackDetach() throws Exception {
        ExternalTool.requireKernelFeature(Files.exists(NBD0), "/dev/nbd0 (the nbd kernel module is not loaded)");
        ExternalTool.requireRoot("attaching /dev/nbd0");
        String mkfs = ExternalTool.require("mkfs.ext4");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(128L << 20);
        }
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        try (NbdvaultProcess attach = NbdvaultProcess.start(dir, "attach", NBD0.toString(), image.toString())
                .awaitLog("attached", Duration.ofSeconds(60))) {
            Proc.run(120, mkfs, "-F", "-q", NBD0.toString()).assertOk();
            Proc.run(30, "mount", NBD0.toString(), mnt.toString()).assertOk();
            Files.writeString(mnt.resolve("hello"), "through the kernel");
            Proc.run(60, "umount", mnt.toString()).assertOk();
            Proc.run(30, "mount", NBD0.toString(), mnt.toString()).assertOk();
            assertEquals("through the kernel", Files.readString(mnt.resolve("hello")));
            Proc.run(60, "umount", mnt.toString()).assertOk();
            assertEquals(0, CliBasicsTest.run("detach", NBD0.toString()).code());
            assertEquals(0, attach.waitFor(Duration.ofSeconds(60)), attach.stderr());
        }
    }
}
