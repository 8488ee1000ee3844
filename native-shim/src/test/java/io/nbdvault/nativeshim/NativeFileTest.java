package io.nbdvault.nativeshim;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class NativeFileTest {
    @TempDir
    Path dir;

    private static long allocatedBlocks(Path p) {
        return Long.parseLong(Proc.run(10, "stat", "-c", "%b", p.toString()).assertOk().stdout().trim());
    }

    @Test
    void punchHoleFreesBlocksAndSeekSeesTheHole() throws Exception {
        Path file = dir.resolve("data.img");
        byte[] ones = new byte[8 << 20];
        java.util.Arrays.fill(ones, (byte) 1);
        Files.write(file, ones);
        Proc.run(10, "sync").assertOk();
        long before = allocatedBlocks(file);
        try (NativeFile f = NativeFile.open(file, false, false)) {
            assertTrue(f.punchHole(2 << 20, 4 << 20), "this file system supports hole punching");
            long after = allocatedBlocks(file);
            assertTrue(after <= before - (4L << 20) / 512 + 64, "blocks freed: before " + before + ", after " + after);
            assertEquals(2 << 20, f.seekHole(0, ones.length));
            assertEquals(6 << 20, f.seekData(2 << 20, ones.length));
            assertEquals(0, f.seekData(0, ones.length));
        }
        byte[] back = Files.readAllBytes(file);
        assertEquals(8 << 20, back.length, "size is kept");
        assertEquals(0, back[3 << 20]);
        assertEquals(1, back[7 << 20]);
    }

    @Test
    void seekPastTheLastDataReportsTheEnd() throws Exception {
        Path file = dir.resolve("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        try (NativeFile f = NativeFile.open(file, true, false)) {
            assertEquals(16 << 20, f.seekData(0, 16 << 20));
        }
    }

    @Test
    void errorsNameTheCallAndTheFile() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(ErrnoException.class,
                () -> NativeFile.open(dir.resolve("missing"), true, false));
        assertTrue(e.getMessage().contains("open(") && e.getMessage().contains("missing")
                && e.getMessage().contains("No such file"), e.getMessage());
        assertEquals(2, e.errno());
    }

    @Test
    void blockDeviceSizeOfALoopDevice() throws Exception {
        String losetup = ExternalTool.require("losetup");
        ExternalTool.requireRoot("losetup");
        Path file = dir.resolve("loop.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(24 << 20);
        }
        String loop = Proc.run(30, losetup, "--find", "--show", file.toString()).assertOk().stdout().trim();
        try (NativeFile dev = NativeFile.open(Path.of(loop), false, false)) {
            assertEquals(24 << 20, dev.blockDeviceSize());
            dev.flushBuffers();
            dev.discard(0, 1 << 20);
        } finally {
            Proc.run(30, losetup, "-d", loop);
        }
    }

    @Test
    void unixSocketFdTalksToAJdkServer() throws Exception {
        Path path = dir.resolve("s.sock");
        try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(path));
            try (UnixSocketFd client = UnixSocketFd.connect(path); var accepted = server.accept()) {
                client.writeFully(ByteBuffer.wrap(new byte[] {1, 2, 3}));
                ByteBuffer got = ByteBuffer.allocate(3);
                while (got.hasRemaining()) {
                    accepted.read(got);
                }
                assertEquals(3, got.get(2));
                accepted.write(ByteBuffer.wrap(new byte[] {9, 8}));
                assertEquals(8, client.readFully(2).get(1));
            }
        }
    }
}
