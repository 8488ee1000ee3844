package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.transport.TransportContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;

import static io.nbdvault.transport.iscsi.IscsiTargets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The initiator against a real tgtd: 512- and 4096-byte LUNs, data checked against the backing file. */
class IscsiDeviceTest {
    static {
        LeakCheck.paranoid();
    }

    @TempDir
    static Path dir;
    static Tgtd tgtd;
    static TransportContext ctx;
    static int nextTid = 1;

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

    @ParameterizedTest
    @ValueSource(ints = {512, 4096})
    void writesLandInTheBackingFile(int blockSize) throws Exception {
        int tid = nextTid++;
        String iqn = "iqn.2024-01.io.nbdvault.test:bs" + blockSize;
        Path lun = lunFile(dir, "lun-" + blockSize + ".img");
        tgtd.target(tid, iqn, lun, blockSize);
        byte[] model;
        try (BlockDevice d = open(ctx, tgtd.uri(iqn, 1))) {
            assertEquals(LUN_SIZE, d.size());
            assertEquals(blockSize, d.blockSize());
            model = workout(d, blockSize);
        }
        assertEquals(sha256(model), sha256(lun));
    }
}
