package io.nbdvault.cli;

import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** scripts/kernel-run.sh's contract: the command's status comes back, the share is read-write, a hung guest is cut off. */
@Timeout(180)
class KernelRunScriptTest {
    @TempDir
    Path dir;

    @Test
    void statusOutputAndTheSharedFolderComeBack() throws Exception {
        KernelGuest.requireTools();
        Proc.Result r = run(60, "uname -r; modprobe nbd && test -b /dev/nbd0 && echo nbd-ok; "
                + "echo written > " + dir.resolve("from-guest") + "; touch /etc/guest-only; exit 7");
        assertEquals(7, r.exitCode(), r.stdout() + r.stderr());
        assertTrue(r.stdout().contains("nbd-ok"), r.stdout());
        assertEquals("written\n", Files.readString(dir.resolve("from-guest")));
        assertTrue(!Files.exists(Path.of("/etc/guest-only")), "the host's root is not written");
    }

    @Test
    void aGuestThatDoesNotFinishIsCutOffWith124() throws Exception {
        KernelGuest.requireTools();
        Proc.Result r = run(5, "sleep 600");
        assertEquals(124, r.exitCode(), r.stdout() + r.stderr());
    }

    private Proc.Result run(int timeoutSeconds, String command) {
        List<String> cmd = List.of("env", "KERNEL_SHARE=" + dir, "KERNEL_TIMEOUT=" + timeoutSeconds,
                KernelGuest.projectRoot().resolve("scripts/kernel-run.sh").toString(), command);
        return Proc.run(timeoutSeconds + 60, null, cmd);
    }
}
