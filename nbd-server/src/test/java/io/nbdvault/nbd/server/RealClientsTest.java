package io.nbdvault.nbd.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdvault.core.FileDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server as the real clients see it: libnbd's tools, qemu and fio. */
@Timeout(120)
class RealClientsTest {
    @TempDir
    Path dir;

    @Test
    void nbdinfoSeesSizeFlagsAndDescription() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        try (TestServer s = TestServer.memory(dir, 64 << 20)) {
            JsonNode export = new ObjectMapper().readTree(Proc.run(30, nbdinfo, "--json", s.unixUri("disk"))
                    .assertOk().stdout()).get("exports").get(0);
            assertEquals(64 << 20, export.get("export-size").asLong());
            assertEquals("test disk", export.get("description").asText());
            for (String flag : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_multi_conn", "can_cache")) {
                assertTrue(export.get(flag).asBoolean(), flag);
            }
            assertEquals(false, export.get("is_read_only").asBoolean());
            assertEquals("base:allocation", export.get("contexts").get(0).asText());
        }
    }

    @Test
    void nbdinfoListsEveryExportAndTheDefaultNameReachesTheFirst() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        NbdServer.Builder b = NbdServer.builder()
                .export(new NbdExport("first", "one", new MemoryDevice(1 << 20), false))
                .export(new NbdExport("second", "two", new MemoryDevice(2 << 20), true));
        try (TestServer s = TestServer.start(dir, b)) {
            String list = Proc.run(30, nbdinfo, "--list", "--json", s.unixUri("")).assertOk().stdout();
            JsonNode exports = new ObjectMapper().readTree(list).get("exports");
            assertEquals(2, exports.size());
            assertEquals("second", exports.get(1).get("export-name").asText());
            assertEquals(true, exports.get(1).get("is_read_only").asBoolean());
            assertEquals("1048576", Proc.run(30, nbdinfo, "--size", s.unixUri("")).assertOk().stdout().trim());
            assertNotEquals(0, Proc.run(30, nbdinfo, "--size", s.unixUri("missing")).exitCode());
        }
    }

    @Test
    void nbdinfoMapShowsHolesAndData() throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        String qemuIo = ExternalTool.require("qemu-io");
        try (TestServer s = TestServer.memory(dir, 8 << 20)) {
            Proc.run(30, qemuIo, "-f", "raw", "-c", "write -P 0x11 2M 1M", s.unixUri("disk")).assertOk();
            String map = Proc.run(30, nbdinfo, "--map", s.unixUri("disk")).assertOk().stdout();
            List<String> lines = map.lines().map(String::trim).toList();
            assertEquals(3, lines.size(), map);
            assertTrue(lines.get(0).matches("0\\s+2097152\\s+3\\s+hole,zero"), map);
            assertTrue(lines.get(1).matches("2097152\\s+1048576\\s+0\\s+data"), map);
            assertTrue(lines.get(2).matches("3145728\\s+5242880\\s+3\\s+hole,zero"), map);
        }
    }

    @Test
    void qemuImgInfoAndQemuIoPatternsRoundTrip() throws Exception {
        String qemuImg = ExternalTool.require("qemu-img");
        String qemuIo = ExternalTool.require("qemu-io");
        try (TestServer s = TestServer.memory(dir, 32 << 20)) {
            String info = Proc.run(30, qemuImg, "info", "--output=json", s.tcpUri("disk")).assertOk().stdout();
            assertEquals(32 << 20, new ObjectMapper().readTree(info).get("virtual-size").asLong());
            Proc.run(60, qemuIo, "-f", "raw",
                    "-c", "write -P 0xa5 0 1M", "-c", "write -P 0x5a 1M 4k", "-c", "write -z 2M 64k",
                    "-c", "writev -P 0x33 3M 512 1024 4096", "-c", "flush",
                    s.unixUri("disk")).assertOk();
            Proc.run(60, qemuIo, "-f", "raw", "-r",
                    "-c", "read -P 0xa5 0 1M", "-c", "read -P 0x5a 1M 4k", "-c", "read -P 0 2M 64k",
                    "-c", "read -P 0x33 3M 5632", s.unixUri("disk")).assertOk();
            // The check itself must be able to fail: a wrong pattern is reported.
            String wrong = Proc.run(30, qemuIo, "-f", "raw", "-r", "-c", "read -P 0x77 0 4k", s.unixUri("disk")).stdout();
            assertTrue(wrong.contains("Pattern verification failed"), wrong);
        }
    }

    @Test
    void readOnlyExportRefusesWrites() throws Exception {
        String qemuIo = ExternalTool.require("qemu-io");
        try (TestServer s = TestServer.start(dir, TestServer.with(new MemoryDevice(1 << 20), true))) {
            Proc.Result r = Proc.run(30, qemuIo, "-f", "raw", "-c", "write -P 1 0 4k", s.unixUri("disk"));
            assertTrue(r.exitCode() != 0 || (r.stdout() + r.stderr()).contains("ermission")
                    || (r.stdout() + r.stderr()).contains("read-only") || (r.stdout() + r.stderr()).contains("read only"),
                    r.stdout() + r.stderr());
            Proc.run(30, qemuIo, "-f", "raw", "-r", "-c", "read -P 0 0 4k", s.unixUri("disk")).assertOk();
        }
    }

    @Test
    void nbdcopyRoundTripKeepsEveryByte() throws Exception {
        String nbdcopy = ExternalTool.require("nbdcopy");
        Path in = dir.resolve("in.img");
        Path out = dir.resolve("out.img");
        byte[] data = new byte[16 << 20];
        Random random = new Random(7);
        for (int i = 0; i < data.length; i += 1 << 20) {
            byte[] chunk = new byte[256 << 10];
            random.nextBytes(chunk);
            System.arraycopy(chunk, 0, data, i, chunk.length);
        }
        Files.write(in, data);
        try (TestServer s = TestServer.start(dir, TestServer.with(
                FileDevice.create(dir.resolve("export.img"), data.length, FileSpace.NONE), false))) {
            Proc.run(60, nbdcopy, in.toString(), s.unixUri("disk")).assertOk();
            Proc.run(60, nbdcopy, s.tcpUri("disk"), out.toString()).assertOk();
        }
        assertEquals(sha256(in), sha256(out));
    }

    @Test
    void fioVerifiesCrc32cAtQueueDepth32() {
        String fio = ExternalTool.require("fio");
        try (TestServer s = TestServer.memory(dir, 64 << 20)) {
            Proc.Result r = Proc.run(120, fio, "--name=verify", "--ioengine=nbd", "--uri=" + s.unixUri("disk"),
                    "--rw=randwrite", "--bs=4k", "--iodepth=32", "--size=32M", "--verify=crc32c",
                    "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0").assertOk();
            assertTrue(r.stdout().contains("err= 0"), r.stdout());
            assertTrue(!r.stdout().contains("verify:") || !r.stdout().contains("bad"), r.stdout());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }
}
