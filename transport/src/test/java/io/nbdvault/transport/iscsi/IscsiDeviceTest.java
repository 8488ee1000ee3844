package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.transport.TransportContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
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
            // pieces of blocks: read around, read-modify-write, zeroes at both ends of a range
            byte[] small = "ten bytes!".getBytes();
            ByteBuf b = Unpooled.wrappedBuffer(small);
            d.write(blockSize + 1000, b, 0).get(10, TimeUnit.SECONDS);
            System.arraycopy(small, 0, model, blockSize + 1000, small.length);
            d.writeZeroes(3L * blockSize - 7, 2L * blockSize + 9, 0).get(10, TimeUnit.SECONDS);
            java.util.Arrays.fill(model, 3 * blockSize - 7, 5 * blockSize + 2, (byte) 0);
            d.trim(13, 100, 0).get(10, TimeUnit.SECONDS);
            ByteBuf got = d.read(blockSize + 998, 14).get(10, TimeUnit.SECONDS);
            byte[] want = java.util.Arrays.copyOfRange(model, blockSize + 998, blockSize + 1012);
            byte[] have = new byte[14];
            got.getBytes(got.readerIndex(), have);
            got.release();
            org.junit.jupiter.api.Assertions.assertArrayEquals(want, have);
            d.flush().get(10, TimeUnit.SECONDS);
            assertImage(d, model);
        }
        assertEquals(sha256(model), sha256(lun));
    }
}
