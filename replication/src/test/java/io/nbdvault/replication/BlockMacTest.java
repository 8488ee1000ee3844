package io.nbdvault.replication;

import io.nbdvault.crypto.VectorApi;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The integrity tags are part of the on-disk format: every tag a member holds was written by some
 * earlier version, so {@link BlockMac}'s fast passes must give exactly the construction its javadoc
 * defines. Checked against a plain implementation of that definition here (one AES call per 16
 * bytes, nothing batched), and against tags pinned when the format was fixed.
 */
class BlockMacTest {
    private static final byte[] VOLUME_KEY = bytes(64, 1);
    private static final UUID ARRAY = new UUID(0x0123456789abcdefL, 0xfedcba9876543210L);

    /** Both ways of running the passes around the AES: the Vector API's (tried here on any JDK) and the scalar one. */
    @ParameterizedTest(name = "vector passes: {0}")
    @ValueSource(booleans = {true, false})
    void tagsAreThePmacTheFormatDefinesForEveryBufferShape(boolean vectorPasses) throws Exception {
        for (int unit : new int[] {512, 1024, 4096}) {
            BlockMac mac = BlockMac.derive(VOLUME_KEY.clone(), ARRAY, unit, vectorPasses);
            assertEquals(vectorPasses, mac.passes().startsWith("vector"), mac.passes());
            // Enough blocks to cross the 64 KiB rounds the tags are computed in, at either unit.
            for (int blocks : new int[] {1, 3, 17, 130}) {
                byte[] data = bytes(blocks * unit, unit + blocks);
                byte[] expected = new byte[blocks * BlockMac.TAG];
                for (int b = 0; b < blocks; b++) {
                    byte[] tag = referenceTag(unit, Arrays.copyOfRange(data, b * unit, (b + 1) * unit), 1000 + b, 2);
                    System.arraycopy(tag, 0, expected, b * BlockMac.TAG, BlockMac.TAG);
                }
                for (ByteBuf buf : shapes(data)) {
                    try {
                        byte[] got = new byte[blocks * BlockMac.TAG + 5];
                        mac.tags(buf, buf.readerIndex(), blocks, 1000, 2, got, 5);
                        assertArrayEquals(expected, Arrays.copyOfRange(got, 5, got.length),
                                unit + "-byte blocks, " + blocks + " of them, in " + buf.getClass().getSimpleName());
                    } finally {
                        buf.release();
                    }
                }
            }
            byte[] zeroTags = new byte[4 * BlockMac.TAG];
            mac.zeroTags(4, 77, 1, zeroTags, 0);
            for (int b = 0; b < 4; b++) {
                assertArrayEquals(referenceTag(unit, new byte[unit], 77 + b, 1),
                        Arrays.copyOfRange(zeroTags, b * BlockMac.TAG, (b + 1) * BlockMac.TAG), "zero block " + b);
            }
        }
    }

    @ParameterizedTest(name = "vector passes: {0}")
    @ValueSource(booleans = {true, false})
    void tagsAreThoseArraysAlreadyHold(boolean vectorPasses) {
        // Computed by the first release of the format (a 4 KiB block of bytes(4096, 7) at block 5 of group 1).
        BlockMac mac = BlockMac.derive(VOLUME_KEY.clone(), ARRAY, 4096, vectorPasses);
        byte[] tag = new byte[BlockMac.TAG];
        mac.tags(Unpooled.wrappedBuffer(bytes(4096, 7)), 0, 1, 5, 1, tag, 0);
        assertEquals(PINNED_TAG, HexFormat.of().formatHex(tag));
    }

    /**
     * The default: the Vector API's passes where it runs well (JDK 25+, its module, which surefire
     * adds as the launcher does, and C2), scalar elsewhere, and scalar when asked for.
     */
    @Test
    void vectorPassesWhereTheVectorApiRunsWellUnlessTurnedOff() {
        assertEquals(VectorApi.runsWell(), BlockMac.derive(VOLUME_KEY.clone(), ARRAY, 4096).passes().startsWith("vector"),
                "JDK " + Runtime.version().feature());
        String before = System.getProperty("nbdvault.mac.vector");
        System.setProperty("nbdvault.mac.vector", "false");
        try {
            assertEquals("scalar", BlockMac.derive(VOLUME_KEY.clone(), ARRAY, 4096).passes());
        } finally {
            if (before == null) {
                System.clearProperty("nbdvault.mac.vector");
            } else {
                System.setProperty("nbdvault.mac.vector", before);
            }
        }
    }

    private static final String PINNED_TAG = "1e9d4bafaf65efc42f8b64872efd6594";

    /** The heap array itself, a direct buffer, and the same bytes gathered from uneven pieces. */
    private static ByteBuf[] shapes(byte[] data) {
        ByteBuf heap = Unpooled.wrappedBuffer(data.clone());
        ByteBuf direct = Unpooled.directBuffer(data.length + 3).writerIndex(3).writeBytes(data).readerIndex(3);
        CompositeByteBuf pieces = Unpooled.compositeBuffer(1024);
        for (int at = 0, k = 0; at < data.length; k++) {
            int n = Math.min(k % 2 == 0 ? 1000 : 37, data.length - at);
            pieces.addComponent(true, Unpooled.wrappedBuffer(Arrays.copyOfRange(data, at, at + n)));
            at += n;
        }
        return new ByteBuf[] {heap, direct, pieces};
    }

    /**
     * tag = AES_K2(Σ ⊕ address), Σ = ⊕ᵢ AES_K1(Mᵢ ⊕ Δᵢ), address = block (64 bits) ‖ group (32) ‖
     * unit (32), little-endian; K1 ‖ K2 ‖ Δ = HKDF-SHA256(volume key, salt = array UUID, info).
     */
    private static byte[] referenceTag(int unit, byte[] block, long blockNumber, int group) throws Exception {
        byte[] okm = hkdf(VOLUME_KEY, ByteBuffer.allocate(16).putLong(ARRAY.getMostSignificantBits())
                .putLong(ARRAY.getLeastSignificantBits()).array(),
                "nbdvault integrity v1 (PMAC-AES-256)".getBytes(StandardCharsets.US_ASCII), 64 + unit);
        Cipher k1 = Cipher.getInstance("AES/ECB/NoPadding");
        k1.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(okm, 0, 32, "AES"));
        Cipher k2 = Cipher.getInstance("AES/ECB/NoPadding");
        k2.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(okm, 32, 32, "AES"));
        byte[] sigma = new byte[16];
        for (int i = 0; i < unit; i += 16) {
            byte[] piece = new byte[16];
            for (int j = 0; j < 16; j++) {
                piece[j] = (byte) (block[i + j] ^ okm[64 + i + j]);
            }
            byte[] encrypted = k1.doFinal(piece);
            for (int j = 0; j < 16; j++) {
                sigma[j] ^= encrypted[j];
            }
        }
        byte[] address = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(blockNumber).putInt(unit).putInt(group).array();
        for (int j = 0; j < 16; j++) {
            sigma[j] ^= address[j];
        }
        return k2.doFinal(sigma);
    }

    /** RFC 5869, written out again so the test does not share BlockMac's code. */
    private static byte[] hkdf(byte[] ikm, byte[] salt, byte[] info, int length) throws Exception {
        Mac hmac = Mac.getInstance("HmacSHA256");
        hmac.init(new SecretKeySpec(salt, "HmacSHA256"));
        byte[] prk = hmac.doFinal(ikm);
        hmac.init(new SecretKeySpec(prk, "HmacSHA256"));
        byte[] out = new byte[length];
        byte[] t = new byte[0];
        for (int at = 0, i = 1; at < length; i++) {
            hmac.update(t);
            hmac.update(info);
            hmac.update((byte) i);
            t = hmac.doFinal();
            System.arraycopy(t, 0, out, at, Math.min(t.length, length - at));
            at += t.length;
        }
        return out;
    }

    private static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
