package io.nbdvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `nbdvault attach /dev/nbdN` for a single target: the error without a driver, and a real kernel's /dev/nbd0. */
@Timeout(300)
class AttachKernelTest {
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
    void argumentsAreCheckedBeforeAnythingIsCreatedOrUnlocked() {
        CliBasicsTest.Run none = CliBasicsTest.run("attach");
        assertEquals(1, none.code());
        assertTrue(none.err().contains("/dev/nbdN"), none.err());
        CliBasicsTest.Run ioctlReconnect = CliBasicsTest.run("attach", "--ioctl", "--reconnect", "/dev/nbd15", "m1", "m2");
        assertEquals(1, ioctlReconnect.code());
        assertTrue(ioctlReconnect.err().contains("--reconnect"), ioctlReconnect.err());
        org.junit.jupiter.api.Assumptions.assumeTrue(!Files.exists(Path.of("/dev/nbd15")),
                "this machine has nbd devices");
        // The embedded default (no members) is not created when the device cannot be attached.
        Path data = dir.resolve("vault");
        CliBasicsTest.Run embedded = CliBasicsTest.run("attach", "/dev/nbd15", "--data-dir", data.toString());
        assertEquals(1, embedded.code());
        assertTrue(embedded.err().contains("modprobe nbd"), embedded.err());
        assertTrue(!Files.exists(data), "nothing created");
    }

    /**
     * In a real kernel (user-mode-linux; cli/src/test/kernel/attach-single.sh): attach over netlink,
     * mkfs, mount, write, read back, detach; again with two connections, ended by SIGTERM; again
     * through the ioctls. And {@code attach /dev/nbd3 --data-dir DIR} with no members: the embedded
     * default's replicated volume.
     */
    @Test
    void attachMkfsMountReadBackDetachInAGuestKernel() throws Exception {
        KernelGuest.requireTools("mkfs.ext4", "e2fsck");
        // An embedded default (./nbdvault-data's layout: replica-N.img and key) made here with a
        // cheap KDF and 64 MiB, as argon2id and 1 GiB cost a minute in the guest.
        Path vault = Files.createDirectories(dir.resolve("vault"));
        Files.writeString(vault.resolve("key"), "embedded default of the test");
        assertEquals(0, Main.run("create", "--size", "64M", "--key-file", vault.resolve("key").toString(),
                "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", vault.resolve("replica-1.img").toString(),
                vault.resolve("replica-2.img").toString(), vault.resolve("replica-3.img").toString()));
        KernelGuest.run(dir, "attach-single.sh", Map.of(), Duration.ofMinutes(5)).assertOk();
        assertEquals("netlink", KernelGuest.read(dir, "attach-mode"));
        assertEquals("through the kernel", KernelGuest.read(dir, "hello"));
        assertEquals("0", KernelGuest.read(dir, "detach-status"));
        assertEquals("0", KernelGuest.read(dir, "size-after-detach"));
        assertEquals("through the kernel", KernelGuest.read(dir, "hello-again"));
        // SIGTERM: the JVM exits 143 once the shutdown hook has detached and flushed.
        assertTrue(Set.of("0", "143").contains(KernelGuest.read(dir, "sigterm-status")));
        assertEquals("ioctl", KernelGuest.read(dir, "ioctl-mode"));
        assertEquals("through the kernel", KernelGuest.read(dir, "hello-ioctl"));
        assertEquals("0", KernelGuest.read(dir, "ioctl-detach-status"));
        assertEquals("0", KernelGuest.read(dir, "fsck"));
        assertEquals(Long.toString(48L << 20), KernelGuest.read(dir, "embedded-size")); // 64 MiB minus the LUKS2 header
        assertEquals("same", KernelGuest.read(dir, "embedded-readback"));
        assertEquals("0", KernelGuest.read(dir, "embedded-detach-status"));
    }
}
