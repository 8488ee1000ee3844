package io.nbdvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * nbdvault restarted under a mounted filesystem, in a real kernel (user-mode-linux; the guest script
 * is cli/src/test/kernel/attach-reconnect.sh): SIGKILL while a writer fsyncs files, then
 * {@code attach --reconnect} within the dead-connection timeout: the writer sees no error and the
 * filesystem is clean. Past the timeout the kernel fails the I/O; after a reconnect and e2fsck the
 * files written before are intact. A live server stalled past the kernel's request timeout
 * (SIGSTOP) has its connection dropped by the kernel and replaces it by itself, without an error.
 */
@Timeout(600)
class ReconnectKernelTest {
    @TempDir
    Path dir;

    @Test
    void killedAndReconnectedUnderAMountedFilesystem() throws Exception {
        KernelGuest.requireTools("mkfs.ext4", "e2fsck");
        KernelGuest.run(dir, "attach-reconnect.sh", Map.of(), Duration.ofMinutes(8)).assertOk();
        assertEquals("netlink", read("attach-mode"));
        assertNotEquals("0", read("still-attached"), "the kernel kept /dev/nbd0 after nbdvault died");
        assertTrue(Integer.parseInt(read("killed-at")) < 80, "killed while the writer was running");
        assertEquals("0", read("writer-status"), () -> read("dmesg-reconnect.log"));
        assertEquals("80", read("writer-count"));
        assertEquals("0", read("io-errors"), () -> read("dmesg-reconnect.log"));
        assertEquals("1", read("second-reconnect"), () -> read("attach-second.log"));
        assertEquals("0", read("first-alive"));
        assertEquals("0", read("fsck"), () -> read("fsck1.log"));
        assertEquals(read("sums-before"), read("sums-after"));

        assertEquals("0", read("stall-writer-status"), () -> read("dmesg-stall.log"));
        assertEquals("30", read("stall-writer-count"));
        assertNotEquals("0", read("stall-dropped"), () -> "the kernel timed a request out: " + read("dmesg-stall.log"));
        assertNotEquals("0", read("stall-replaced"), "nbdvault replaced the dropped connection");
        assertEquals("0", read("stall-io-errors"), () -> read("dmesg-stall.log"));

        assertNotEquals("0", read("late-writer-status"), "past the timeout the kernel fails the I/O");
        assertTrue(Integer.parseInt(read("fsck-repair")) <= 1, () -> read("fsck2.log"));
        assertEquals("0", read("fsck-after"), () -> read("fsck3.log"));
        assertEquals("0", read("kept"), () -> read("kept.log"));
        assertEquals("0", read("detach-status"));
    }

    private String read(String name) {
        try {
            return KernelGuest.read(dir, name);
        } catch (Exception | AssertionError e) {
            return "(" + name + " unreadable)";
        }
    }
}
