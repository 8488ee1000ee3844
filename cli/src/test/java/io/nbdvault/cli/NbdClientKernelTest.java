package io.nbdvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's nbd-client (a standard kernel client) against {@code nbdvault serve} with two
 * connections, in a real kernel (user-mode-linux; cli/src/test/kernel/nbd-client.sh).
 */
@Timeout(600)
class NbdClientKernelTest {
    @TempDir
    Path dir;

    @Test
    void nbdClientWithTwoConnectionsMkfsMountDetach() throws Exception {
        KernelGuest.requireTools("nbd-client", "mkfs.ext4", "e2fsck");
        KernelGuest.run(dir, "nbd-client.sh", Map.of(), Duration.ofMinutes(6)).assertOk();
        assertEquals("0", read("connect"), () -> read("nbd-client.log"));
        assertEquals("2", read("connections"));
        assertEquals(Long.toString(48L << 20), read("size")); // 64 MiB array minus the 16 MiB LUKS2 header
        String written = read("sums-written");
        assertTrue(written.lines().count() >= 40, written);
        assertEquals(written, read("sums-remounted"));
        assertEquals("0", read("fsck"), () -> read("fsck.log"));
        assertEquals("0", read("disconnect"), () -> read("nbd-client.log"));
        assertEquals("0", read("size-after"));
        assertEquals("0", read("serve-alive"));
        assertTrue(Set.of("0", "143").contains(read("serve-status")));
    }

    private String read(String name) {
        try {
            return KernelGuest.read(dir, name);
        } catch (Exception | AssertionError e) {
            return "(" + name + " unreadable)";
        }
    }
}
