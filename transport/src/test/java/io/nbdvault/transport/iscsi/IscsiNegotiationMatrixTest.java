package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.transport.TransportContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.nbdvault.transport.iscsi.IscsiTargets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Login and data transfer across what a target can negotiate (pairwise over the values): no auth,
 * one-way and mutual CHAP; header and data digests on and off; InitialR2T Yes and No; the target's
 * MaxRecvDataSegmentLength at 8 KiB and 256 KiB (so Data-Out PDUs are cut to it); FirstBurstLength
 * below the I/O size (so writes go partly unsolicited and the rest after R2Ts); 512- and 4096-byte
 * blocks. Every case checks the negotiated values, the data read back, and the backing file's sha256;
 * libiscsi's tools and qemu (through libiscsi) cross-check one LUN.
 */
class IscsiNegotiationMatrixTest {
    static {
        LeakCheck.paranoid();
    }

    @TempDir
    static Path dir;
    static Tgtd tgtd;
    static TransportContext ctx;
    static int nextTid = 1;

    enum Auth { NONE, CHAP, MUTUAL }

    @BeforeAll
    static void start() throws Exception {
        tgtd = Tgtd.start(dir);
        ctx = context(Duration.ofSeconds(10));
    }

    @AfterAll
    static void stop() throws Exception {
        if (ctx != null) {
            ctx.close();
        }
        if (tgtd != null) {
            tgtd.close();
        }
        LeakCheck.assertNoLeaks();
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // auth, digests, initialR2T, immediateData, target MaxRecvDataSegmentLength, FirstBurstLength, block
                Arguments.of(Auth.NONE, false, false, true, 262144, 65536, 512),
                Arguments.of(Auth.CHAP, true, true, true, 8192, 4096, 4096),
                Arguments.of(Auth.MUTUAL, true, false, true, 8192, 16384, 512),
                Arguments.of(Auth.CHAP, false, false, false, 262144, 8192, 4096),
                Arguments.of(Auth.MUTUAL, false, true, true, 262144, 65536, 4096),
                Arguments.of(Auth.NONE, true, true, false, 8192, 65536, 512),
                Arguments.of(Auth.NONE, false, true, true, 262144, 4096, 512),
                Arguments.of(Auth.CHAP, true, false, true, 262144, 262144, 512));
    }

    @ParameterizedTest(name = "{0} digests={1} InitialR2T={2} ImmediateData={3} MRDSL={4} FirstBurst={5} bs={6}")
    @MethodSource("cases")
    void negotiatesAndMovesData(Auth auth, boolean digests, boolean initialR2T, boolean immediateData, int mrdsl,
                                int firstBurst, int blockSize) throws Exception {
        int tid = nextTid++;
        String iqn = "iqn.2024-01.io.nbdvault.test:m" + tid;
        Path lun = lunFile(dir, "m" + tid + ".img");
        tgtd.target(tid, iqn, lun, blockSize)
                .param(tid, "InitialR2T", initialR2T ? "Yes" : "No")
                .param(tid, "ImmediateData", immediateData ? "Yes" : "No")
                .param(tid, "MaxRecvDataSegmentLength", Integer.toString(mrdsl))
                .param(tid, "FirstBurstLength", Integer.toString(firstBurst))
                .param(tid, "MaxBurstLength", Integer.toString(Math.max(firstBurst, 65536)));
        if (digests) {
            tgtd.param(tid, "HeaderDigest", "CRC32C,None").param(tid, "DataDigest", "CRC32C,None");
        }
        String user = "";
        String query = "";
        if (auth != Auth.NONE) {
            tgtd.account(tid, "init" + tid, "initsecret" + tid, false);
            user = "init" + tid + "%initsecret" + tid + "@";
        }
        if (auth == Auth.MUTUAL) {
            tgtd.account(tid, "tgt" + tid, "targetsecret" + tid, true);
            query = "?target_user=tgt" + tid + "&target_password=targetsecret" + tid;
        }
        if (digests) {
            query += (query.isEmpty() ? "?" : "&") + "header_digest=crc32c&data_digest=crc32c";
        }
        String uri = "iscsi://" + user + tgtd.portal() + "/" + iqn + "/1" + query;
        byte[] model;
        try (BlockDevice d = open(ctx, uri)) {
            Negotiated n = ((IscsiDevice) d).negotiated();
            assertEquals(digests, n.headerDigest());
            assertEquals(digests, n.dataDigest());
            assertEquals(initialR2T, n.initialR2T());
            assertEquals(immediateData, n.immediateData());
            assertEquals(mrdsl, n.targetMaxRecvDataSegment());
            assertEquals(firstBurst, n.firstBurst());
            assertEquals(blockSize, d.blockSize());
            assertTrue(!d.toString().contains("secret"), d.toString());
            model = workout(d, tid);
        }
        assertEquals(sha256(model), sha256(lun));
    }

    /** libiscsi's tools and qemu's iscsi driver see what nbdvault sees, and read what it wrote. */
    @Test
    void libiscsiAgrees() throws Exception {
        String inq = ExternalTool.require("iscsi-inq");
        String cap = ExternalTool.require("iscsi-readcapacity16");
        String qemuImg = ExternalTool.require("qemu-img");
        int tid = nextTid++;
        String iqn = "iqn.2024-01.io.nbdvault.test:x" + tid;
        Path lun = lunFile(dir, "x" + tid + ".img");
        tgtd.target(tid, iqn, lun, 4096);
        String uri = tgtd.uri(iqn, 1);
        byte[] model;
        long size;
        int block;
        try (BlockDevice d = open(ctx, uri)) {
            size = d.size();
            block = d.blockSize();
            model = workout(d, 99);
        }
        String capacity = run(cap, uri);
        assertTrue(capacity.contains("LOGICAL BLOCK LENGTH IN BYTES:" + block), capacity);
        assertTrue(capacity.contains("Total size:" + size), capacity);
        String inquiry = run(inq, uri);
        assertTrue(inquiry.contains("DIRECT_ACCESS"), inquiry);
        Path expected = dir.resolve("expected-" + tid + ".img");
        Files.write(expected, model);
        String compare = run(qemuImg, "compare", "-f", "raw", "-F", "raw", expected.toString(), uri);
        assertTrue(compare.contains("Images are identical"), compare);
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
