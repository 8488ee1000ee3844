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
 * The replicated, encrypted volume as /dev/nbd0 in a real kernel (user-mode-linux; the guest script
 * is cli/src/test/kernel/attach-replicated.sh): three nbdkit file replicas, ext4, one replica
 * SIGKILLed while writing goes on, detach, re-attach, e2fsck; sync, fsync and fstrim reaching the
 * replicas as flushes and trims (and fstrim shrinking their allocation); fio
 * verifying through libaio and O_DIRECT.
 */
@Timeout(600)
class ReplicatedAttachKernelTest {
    @TempDir
    Path dir;

    @Test
    void threeReplicasAsDevNbd0SurviveAReplicaKillAndTrimReachesThem() throws Exception {
        KernelGuest.requireTools("nbdkit", "mkfs.ext4", "e2fsck", "fstrim", "fio");
        KernelGuest.run(dir, "attach-replicated.sh", Map.of(), Duration.ofMinutes(8)).assertOk();
        assertEquals("netlink", KernelGuest.read(dir, "attach-mode"));
        assertEquals("0", KernelGuest.read(dir, "write-after-kill-status"), "writes after a replica died");
        // attach answers on its admin socket like serve: degraded, the killed replica failed.
        String json = KernelGuest.read(dir, "status-degraded.json");
        com.fasterxml.jackson.databind.JsonNode status = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        assertEquals("DEGRADED", status.path("state").asText(), json);
        long failed = 0;
        for (com.fasterxml.jackson.databind.JsonNode member : status.path("members")) {
            failed += member.path("state").asText().equalsIgnoreCase("failed") ? 1 : 0;
        }
        assertEquals(1, failed, json);
        assertEquals("0", KernelGuest.read(dir, "detach-status"));
        assertEquals("0", KernelGuest.read(dir, "fsck"), () -> read("fsck.log"));
        String before = KernelGuest.read(dir, "sums-before");
        assertTrue(before.lines().count() > 120, "the tree was written");
        assertEquals(before, KernelGuest.read(dir, "sums-after"));
        assertEquals("0", KernelGuest.read(dir, "fio"), () -> read("fio.log"));
        assertTrue(Set.of("0", "143").contains(KernelGuest.read(dir, "sigterm-status")));

        // Kernel flushes and trims arrive at the replicas (counted by nbdkit's log filter on one of them).
        assertTrue(Integer.parseInt(KernelGuest.read(dir, "flushes-by-sync")) >= 1, "sync flushed the replicas");
        assertTrue(Integer.parseInt(KernelGuest.read(dir, "flushes-by-fsync")) >= 1, "fsync flushed the replicas");
        assertTrue(Integer.parseInt(KernelGuest.read(dir, "trims-by-fstrim")) >= 1, "fstrim trimmed the replicas");
        assertEquals("0", KernelGuest.read(dir, "fstrim-status"), () -> read("fstrim.log"));
        long withFile = Long.parseLong(KernelGuest.read(dir, "allocated-with-file"));
        long afterTrim = Long.parseLong(KernelGuest.read(dir, "allocated-after-trim"));
        // 24 MiB freed on two replicas: at least 2 x 16 MiB of holes punched.
        assertTrue(withFile - afterTrim >= 32L << 20, "replicas' allocation " + withFile + " -> " + afterTrim);
    }

    private String read(String name) {
        try {
            return KernelGuest.read(dir, name);
        } catch (Exception e) {
            return "(" + name + " unreadable)";
        }
    }
}
