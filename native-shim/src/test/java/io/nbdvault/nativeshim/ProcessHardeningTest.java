package io.nbdvault.nativeshim;

import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class ProcessHardeningTest {

    /** Run in a fresh JVM so the test JVM itself stays dumpable. */
    public static void main(String[] args) {
        System.out.println("before=" + ProcessHardening.dumpable());
        System.out.println("set=" + ProcessHardening.makeNonDumpable());
        System.out.println("after=" + ProcessHardening.dumpable());
    }

    @Test
    void nonDumpableReadsBackAsZero() {
        Proc.Result r = Proc.runJava(60, List.of(), ProcessHardeningTest.class).assertOk();
        assertTrue(r.stdout().contains("before=1"), r.stdout());
        assertTrue(r.stdout().contains("set=true"), r.stdout());
        assertTrue(r.stdout().contains("after=0"), r.stdout());
    }

    @Test
    void lockingSucceedsOrWarnsAsTheLimitSays() throws Exception {
        ByteBuffer key = ByteBuffer.allocateDirect(64);
        long limit = ProcessHardening.memlockLimit();
        long lockedBefore = vmLockedKiB();
        ProcessHardening.LockResult result = ProcessHardening.lock(key);
        try {
            if (limit == -1 || limit >= 8192) {
                assertTrue(result.locked(), "RLIMIT_MEMLOCK " + limit + " allows locking: " + result.warning());
                assertTrue(vmLockedKiB() > lockedBefore, "VmLck grew");
            } else {
                assertEquals(false, result.locked());
                assertTrue(result.warning().contains("RLIMIT_MEMLOCK"), result.warning());
            }
        } finally {
            ProcessHardening.unlock(key);
        }
    }

    private static long vmLockedKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmLck:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no VmLck in /proc/self/status");
    }
}
