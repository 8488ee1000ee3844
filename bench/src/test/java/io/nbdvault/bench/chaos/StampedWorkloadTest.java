package io.nbdvault.bench.chaos;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The stamps the chaos workload writes: what a block read back is taken for. */
class StampedWorkloadTest {
    @TempDir
    Path dir;

    @Test
    void aStampReadsBackAsItsGenerationAndDamageIsSeen() {
        ByteBuf b = Unpooled.buffer(StampedWorkload.BLOCK);
        try {
            StampedWorkload.stamp(b, 77, 8192, 5);
            assertEquals(StampedWorkload.BLOCK, b.readableBytes());
            assertEquals(5, StampedWorkload.generation(b, 0, 77, 8192));
            assertEquals(0, StampedWorkload.generation(b, 0, 78, 8192), "another run's block counts as never written");
            assertEquals(-1, StampedWorkload.generation(b, 0, 77, 4096), "a block at the wrong offset is corrupt");
            b.setByte(1000, b.getByte(1000) ^ 1);
            assertEquals(-1, StampedWorkload.generation(b, 0, 77, 8192), "a flipped bit is corrupt");
            assertEquals(0, StampedWorkload.generation(Unpooled.buffer(4096).writeZero(4096), 0, 77, 0), "zeroes: never written");
        } finally {
            b.release();
        }
    }

    @Test
    void theJournalKeepsAcknowledgedAndIssuedGenerations() throws Exception {
        StampedWorkload.Journal j = new StampedWorkload.Journal(42, 10);
        j.issued.set(3, 7);
        j.acked.set(3, 6);
        j.issued.set(9, 1);
        Path file = dir.resolve("journal");
        j.save(file);
        StampedWorkload.Journal back = StampedWorkload.Journal.load(file);
        assertEquals(42, back.runId);
        assertEquals(10, back.blocks);
        assertEquals(6, back.acked.get(3));
        assertEquals(7, back.issued.get(3));
        assertEquals(0, back.acked.get(9));
        assertEquals(1, back.issued.get(9));
        assertEquals(0, back.issued.get(0));
    }
}
