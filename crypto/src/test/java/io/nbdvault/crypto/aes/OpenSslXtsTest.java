package io.nbdvault.crypto.aes;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OpenSSL's XTS one sector per call, its IV written in place (AesXtsTest compares it with every other path). */
class OpenSslXtsTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void theInPlaceIvCheckPassesWithThisLibCrypto() {
        TestEngines.requireOpenSsl();
        assertTrue(OpenSslXts.usable(), OpenSslXts.unusableReason());
        assertNull(OpenSslXts.unusableReason());
    }

    /**
     * IEEE 1619-2007 vector 10 (XTS-AES-256, data unit 0xff, 512 bytes), whose key halves differ so
     * OpenSSL takes it, both directions, and twice in a row with other tweaks between: each call's
     * tweak is its own.
     */
    @Test
    void ieee1619Vector10() {
        TestEngines.requireOpenSsl();
        byte[] key = HEX.parseHex("2718281828459045235360287471352662497757247093699959574966967627"
                + "3141592653589793238462643383279502884197169399375105820974944592");
        byte[] plain = new byte[512];
        for (int i = 0; i < plain.length; i++) {
            plain[i] = (byte) i;
        }
        String cipherStart = "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b";
        String cipherEnd = "ab1cbb4c1550be97f7ab4066193c4caa773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151";
        try (OpenSslXts encrypt = OpenSslXts.create(key, true); OpenSslXts decrypt = OpenSslXts.create(key, false)) {
            ByteBuffer sector = ByteBuffer.allocateDirect(512).put(plain).flip();
            ByteBuffer other = ByteBuffer.allocateDirect(512);
            long at = encrypt.address(sector);
            encrypt.sector(encrypt.address(other), 512, 3);
            encrypt.sector(at, 512, 0xff);
            encrypt.sector(encrypt.address(other), 512, 4);
            String got = HEX.formatHex(bytes(sector));
            assertEquals(cipherStart, got.substring(0, 64));
            assertEquals(cipherEnd, got.substring(got.length() - cipherEnd.length()));
            decrypt.sector(at, 512, 0xff);
            assertArrayEquals(plain, bytes(sector));
        }
    }

    /** The address of a direct buffer's position, slices and all, as Netty and jnr-ffi each find it. */
    @Test
    void addressesPointAtThePosition() {
        TestEngines.requireOpenSsl();
        byte[] key = new byte[64];
        new Random(4).nextBytes(key);
        try (OpenSslXts xts = OpenSslXts.create(key, true)) {
            ByteBuffer base = ByteBuffer.allocateDirect(256);
            ByteBuffer slice = base.slice(32, 128).position(16);
            assertEquals(xts.address(base) + 48, xts.address(slice));
            assertEquals(xts.jnrAddress(slice), xts.address(slice));
            assertEquals(xts.jnrAddress(base.duplicate().position(200)), xts.address(base.duplicate().position(200)));
        }
    }

    @Test
    void badUseIsRefused() {
        TestEngines.requireOpenSsl();
        byte[] key = new byte[64];
        new Random(3).nextBytes(key);
        byte[] equalHalves = new byte[64];
        assertThrows(IllegalArgumentException.class, () -> OpenSslXts.create(equalHalves, true), "equal halves");
        assertThrows(IllegalArgumentException.class, () -> OpenSslXts.create(new byte[48], true), "a 384-bit key");
        OpenSslXts xts = OpenSslXts.create(key, true);
        ByteBuffer memory = ByteBuffer.allocateDirect(64);
        assertThrows(IllegalArgumentException.class, () -> xts.sector(xts.address(memory), 15, 0), "shorter than a block");
        assertThrows(IllegalArgumentException.class, () -> xts.address(ByteBuffer.allocate(16)), "a heap buffer");
        xts.close();
        assertThrows(IllegalStateException.class, () -> xts.sector(xts.address(memory), 16, 0), "after close");
            }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
