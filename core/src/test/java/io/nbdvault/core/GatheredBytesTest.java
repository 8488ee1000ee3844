package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GatheredBytesTest {

    /** Random reads and writes, forwards and backwards, across pieces of uneven sizes, match one flat array. */
    @Test
    void copiesAcrossPiecesAsIfTheBytesWereOne() {
        byte[] model = new byte[20000];
        new Random(1).nextBytes(model);
        CompositeByteBuf pieces = Unpooled.compositeBuffer(64);
        int[] sizes = {1, 4096, 333, 7000, 0, 8570};
        for (int at = 0, k = 0; at < model.length; k++) {
            int n = Math.min(sizes[k % sizes.length], model.length - at);
            ByteBuf piece = k % 2 == 0 ? Unpooled.directBuffer(n + 50) : Unpooled.buffer(n + 50);
            pieces.addComponent(true, piece.writerIndex(25).readerIndex(25).writeBytes(model, at, n));
            at += n;
        }
        ByteBuf whole = Unpooled.buffer().writeBytes(new byte[7]).writeBytes(pieces.duplicate());
        // Skip the 7 leading bytes, as a slice of a larger message would start.
        GatheredBytes g = new GatheredBytes(whole.writerIndex(7 + model.length), 7, model.length);
        GatheredBytes gp = new GatheredBytes(pieces, 0, model.length);
        byte[] original = model.clone();
        assertFalse(gp.anyReadOnly());
        Random r = new Random(2);
        for (int i = 0; i < 2000; i++) {
            int at = r.nextInt(model.length);
            int n = r.nextInt(Math.min(9000, model.length - at) + 1);
            byte[] got = new byte[n + 3];
            gp.get(at, got, 3, n);
            assertArrayEquals(Arrays.copyOfRange(model, at, at + n), Arrays.copyOfRange(got, 3, n + 3));
            if (i % 3 == 0) {
                byte[] fresh = new byte[n];
                r.nextBytes(fresh);
                gp.put(at, fresh, 0, n);
                System.arraycopy(fresh, 0, model, at, n);
            }
            // The same through a direct buffer, at an index of it.
            java.nio.ByteBuffer other = java.nio.ByteBuffer.allocateDirect(n + 5);
            gp.get(at, other, 5, n);
            byte[] viaBuffer = new byte[n];
            other.get(5, viaBuffer);
            assertArrayEquals(Arrays.copyOfRange(model, at, at + n), viaBuffer, "into a ByteBuffer");
            if (i % 5 == 0) {
                byte[] fresh = new byte[n];
                r.nextBytes(fresh);
                gp.put(at, java.nio.ByteBuffer.allocateDirect(n + 2).put(2, fresh), 2, n);
                System.arraycopy(fresh, 0, model, at, n);
            }
            // The piece holding a byte, and where: that byte, and the run after it, are there.
            java.nio.ByteBuffer piece = gp.pieceAt(at);
            int offset = gp.offsetInPiece(at);
            int run = gp.contiguousFrom(at);
            assertTrue(run >= 1 && run <= model.length - at && offset + run <= piece.remaining(), at + ": " + run);
            byte[] inPiece = new byte[run];
            piece.get(piece.position() + offset, inPiece);
            assertArrayEquals(Arrays.copyOfRange(model, at, at + run), inPiece, "the run from " + at);
            assertTrue(at + run == model.length || gp.pieceAt(at + run) != piece, "a run ends where its piece does");
        }
        byte[] all = new byte[model.length];
        pieces.getBytes(0, all);
        assertArrayEquals(model, all, "writes went through to the pieces' memory");
        byte[] tail = new byte[100];
        g.get(19900, tail, 0, 100);
        assertArrayEquals(Arrays.copyOfRange(original, 19900, 20000), tail, "an index other than 0 is honoured");
        assertThrows(IndexOutOfBoundsException.class, () -> gp.get(model.length - 5, new byte[10], 0, 10));
        assertThrows(IndexOutOfBoundsException.class, () -> gp.pieceAt(model.length));
        assertThrows(IndexOutOfBoundsException.class, () -> gp.contiguousFrom(-1));
        pieces.release();
        whole.release();
    }

    @Test
    void readOnlyPiecesAreReported() {
        CompositeByteBuf pieces = Unpooled.compositeBuffer().addComponent(true, Unpooled.buffer(8).writeLong(1))
                .addComponent(true, Unpooled.wrappedBuffer(new byte[8]).asReadOnly());
        assertTrue(new GatheredBytes(pieces, 0, 16).anyReadOnly());
        assertFalse(new GatheredBytes(pieces, 0, 8).anyReadOnly());
        pieces.release();
    }
}
