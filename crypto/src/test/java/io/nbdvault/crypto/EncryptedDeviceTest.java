package io.nbdvault.crypto;

import static io.nbdvault.testing.Devices.read;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.crypto.xts.AesXts;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class EncryptedDeviceTest {
    private static final int OFFSET = 16 * 1024;
    private static final int SIZE = 2 << 20;

    private static byte[] key() {
        byte[] key = new byte[64];
        new Random(99).nextBytes(key);
        return key;
    }


    @ParameterizedTest(name = "{0}-byte sectors")
    @ValueSource(ints = {512, 4096})
    void randomAlignedAndUnalignedIoMatchesAPlainModel(int sectorSize) {
        MemoryDevice raw = new MemoryDevice(OFFSET + SIZE);
        byte[] model = new byte[SIZE];
        try (EncryptedDevice dev = new EncryptedDevice(raw, OFFSET, SIZE, new AesXts(key()), sectorSize, 0)) {
            // Zero ciphertext decrypts to noise, as on dm-crypt: start from encrypted zeroes.
            dev.writeZeroes(0, SIZE, WriteFlags.NONE).join();
            Random random = new Random(sectorSize);
            for (int i = 0; i < 400; i++) {
                boolean aligned = random.nextBoolean();
                int length = aligned ? sectorSize * (1 + random.nextInt(40)) : 1 + random.nextInt(20_000);
                int offset = aligned ? sectorSize * random.nextInt((SIZE - length) / sectorSize)
                        : random.nextInt(SIZE - length);
                switch (random.nextInt(4)) {
                    case 0, 1 -> {
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        dev.write(offset, Unpooled.wrappedBuffer(data.clone()), WriteFlags.NONE).join();
                        System.arraycopy(data, 0, model, offset, length);
                    }
                    case 2 -> {
                        dev.writeZeroes(offset, length, WriteFlags.NONE).join();
                        java.util.Arrays.fill(model, offset, offset + length, (byte) 0);
                    }
                    default -> assertArrayEquals(java.util.Arrays.copyOfRange(model, offset, offset + length),
                            read(dev, offset, length));
                }
            }
            assertArrayEquals(model, read(dev, 0, SIZE));
        }
    }

    @ParameterizedTest(name = "{0}-byte sectors")
    @ValueSource(ints = {512, 4096})
    void ciphertextBelowIsXtsWithTweaksInFiveTwelveByteUnits(int sectorSize) {
        MemoryDevice raw = new MemoryDevice(OFFSET + SIZE);
        byte[] plain = new byte[3 * sectorSize];
        new Random(5).nextBytes(plain);
        try (EncryptedDevice dev = new EncryptedDevice(raw, OFFSET, SIZE, new AesXts(key()), sectorSize, 0)) {
            dev.write(5L * sectorSize, Unpooled.wrappedBuffer(plain.clone()), WriteFlags.NONE).join();
        }
        byte[] stored = read(raw, OFFSET + 5L * sectorSize, plain.length);
        assertFalse(java.util.Arrays.equals(plain, stored), "plaintext must not reach the device below");
        assertArrayEquals(ciphertext(plain, sectorSize, 5), stored);
        assertArrayEquals(new byte[OFFSET], read(raw, 0, OFFSET), "nothing is written before the payload");
    }

    @ParameterizedTest(name = "{0}-byte sectors")
    @ValueSource(ints = {4096})
    void concurrentPartialWritesIntoTheSameSectorsAllSurvive(int sectorSize) {
        MemoryDevice raw = new MemoryDevice(OFFSET + SIZE);
        // A device below that completes on other threads, so read-modify-writes really interleave.
        BlockDevice slow = new DelayedDevice(raw);
        try (EncryptedDevice dev = new EncryptedDevice(slow, OFFSET, SIZE, new AesXts(key()), sectorSize, 0)) {
            dev.writeZeroes(0, 8L * sectorSize, WriteFlags.NONE).join();
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            byte[] expected = new byte[8 * sectorSize];
            for (int i = 0; i < expected.length / 100; i++) {
                byte[] piece = new byte[100];
                java.util.Arrays.fill(piece, (byte) (i + 1));
                System.arraycopy(piece, 0, expected, i * 100, 100);
                writes.add(dev.write(i * 100L, Unpooled.wrappedBuffer(piece), WriteFlags.NONE));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
            byte[] got = read(dev, 0, expected.length);
            assertArrayEquals(java.util.Arrays.copyOf(expected, (expected.length / 100) * 100),
                    java.util.Arrays.copyOf(got, (expected.length / 100) * 100));
        }
    }

    /**
     * A payload gathered from several socket reads, in pieces that cut sectors anywhere, is
     * encrypted where it lies (the caller's pieces hold the ciphertext afterwards: nothing was
     * copied) and gives the same ciphertext as one contiguous buffer; a read whose data comes up in
     * such pieces decrypts to the plaintext.
     */
    @ParameterizedTest(name = "{0}-byte sectors")
    @ValueSource(ints = {512, 4096})
    void buffersInPiecesAreEncryptedAndDecryptedWhereTheyLie(int sectorSize) {
        MemoryDevice raw = new MemoryDevice(OFFSET + SIZE);
        byte[] plain = new byte[8 * sectorSize];
        new Random(6).nextBytes(plain);
        CompositeByteBuf pieces = inPieces(plain);
        try (EncryptedDevice dev = new EncryptedDevice(raw, OFFSET, SIZE, new AesXts(key()), sectorSize, 0);
             EncryptedDevice pieceReader = new EncryptedDevice(new ReadsInPieces(raw), OFFSET, SIZE, new AesXts(key()),
                     sectorSize, 0)) {
            dev.write(3L * sectorSize, pieces, WriteFlags.NONE).join();
            byte[] expected = ciphertext(plain, sectorSize, 3);
            assertArrayEquals(expected, read(raw, OFFSET + 3L * sectorSize, plain.length));
            assertArrayEquals(expected, ByteBufUtil.getBytes(pieces), "encrypted in place, not in a copy");
            assertEquals(1, pieces.refCnt(), "the layer keeps no reference to the caller's buffer");
            pieces.release();
            assertArrayEquals(plain, read(pieceReader, 3L * sectorSize, plain.length));
            assertArrayEquals(java.util.Arrays.copyOfRange(plain, 700, 700 + 5 * sectorSize),
                    read(pieceReader, 3L * sectorSize + 700, 5 * sectorSize), "unaligned, in pieces");
        }
    }

    /** A piece of somebody else's read-only memory is never overwritten: that payload is copied first. */
    @ParameterizedTest(name = "{0}-byte sectors")
    @ValueSource(ints = {512, 4096})
    void aReadOnlyPieceIsLeftAsItWas(int sectorSize) {
        MemoryDevice raw = new MemoryDevice(OFFSET + SIZE);
        byte[] plain = new byte[4 * sectorSize];
        new Random(7).nextBytes(plain);
        byte[] shared = java.util.Arrays.copyOfRange(plain, 1000, plain.length);
        CompositeByteBuf pieces = Unpooled.compositeBuffer().addComponent(true, Unpooled.wrappedBuffer(plain, 0, 1000))
                .addComponent(true, Unpooled.wrappedBuffer(shared).asReadOnly());
        try (EncryptedDevice dev = new EncryptedDevice(raw, OFFSET, SIZE, new AesXts(key()), sectorSize, 0)) {
            dev.write(0, pieces, WriteFlags.NONE).join();
            assertArrayEquals(java.util.Arrays.copyOfRange(plain, 1000, plain.length), shared);
            assertArrayEquals(plain, read(dev, 0, plain.length));
        } finally {
            pieces.release();
        }
    }

    /** {@code bytes} as a composite of pieces of uneven sizes, none a whole number of 512-byte sectors. */
    private static CompositeByteBuf inPieces(byte[] bytes) {
        CompositeByteBuf pieces = Unpooled.compositeBuffer(64);
        int[] sizes = {1000, 37, 5000, 3001};
        for (int at = 0, k = 0; at < bytes.length; k++) {
            int n = Math.min(sizes[k % sizes.length], bytes.length - at);
            pieces.addComponent(true, Unpooled.directBuffer(n).writeBytes(bytes, at, n));
            at += n;
        }
        return pieces;
    }

    /** {@code plain} as XTS with this test's key makes it, written from sector {@code firstSector} on. */
    private static byte[] ciphertext(byte[] plain, int sectorSize, long firstSector) {
        byte[] out = plain.clone();
        try (AesXts reference = new AesXts(key())) {
            reference.encrypt(ByteBuffer.wrap(out), sectorSize, firstSector * sectorSize / 512, sectorSize / 512);
        }
        return out;
    }

    /** Answers every read with its data in pieces, as a reply gathered from several socket reads arrives. */
    private static final class ReadsInPieces extends ForwardingDevice {
        ReadsInPieces(BlockDevice below) {
            super(below);
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            return below.read(offset, length).thenApply(whole -> {
                try {
                    return inPieces(ByteBufUtil.getBytes(whole));
                } finally {
                    whole.release();
                }
            });
        }
    }
}
