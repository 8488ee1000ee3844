package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exporting a real block device (a loop device): size from BLKGETSIZE64, TRIM as BLKDISCARD. */
@Timeout(180)
class BlockDeviceExportTest {
    @TempDir
    Path dir;

    private static long blocks(Path p) {
        return Long.parseLong(Proc.run(10, "stat", "-c", "%b", p.toString()).assertOk().stdout().trim());
    }

    @Test
    void loopDeviceExportDiscardsReachTheBackingFile() throws Exception {
        ExternalTool.requireRoot("losetup");
        String losetup = ExternalTool.require("losetup");
        String qemuIo = ExternalTool.require("qemu-io");
        String nbdinfo = ExternalTool.require("nbdinfo");
        Path backing = dir.resolve("backing.img");
        byte[] ones = new byte[32 << 20];
        java.util.Arrays.fill(ones, (byte) 1);
        Files.write(backing, ones);
        Proc.run(10, "sync").assertOk();
        String loop = Proc.run(30, losetup, "--find", "--show", backing.toString()).assertOk().stdout().trim();
        Path socket = dir.resolve("nbd.sock");
        try (NbdvaultProcess p = NbdvaultProcess.start(dir, "export", "--socket", socket.toString(), loop)
                .awaitSocket(socket, Duration.ofSeconds(60))) {
            String uri = "nbd+unix:///?socket=" + socket;
            assertEquals(Long.toString(32L << 20), Proc.run(30, nbdinfo, "--size", uri).assertOk().stdout().trim());
            long before = blocks(backing);
            Proc.run(60, qemuIo, "-f", "raw", "-c", "discard 0 16M", "-c", "flush", uri).assertOk();
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -z 16M 1M", "-c", "read -P 0 16M 1M", uri).assertOk();
            Proc.run(10, "sync").assertOk();
            long after = blocks(backing);
            assertTrue(after < before - (8L << 20) / 512, "BLKDISCARD on the loop device punched the backing file: "
                    + before + " -> " + after + " blocks");
            p.terminate(Duration.ofSeconds(30));
        } finally {
            Proc.run(30, losetup, "-d", loop);
        }
    }
}
