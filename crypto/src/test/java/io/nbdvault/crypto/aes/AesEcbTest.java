package io.nbdvault.crypto.aes;

import org.junit.jupiter.api.Test;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AesEcbTest {
    private static final HexFormat HEX = HexFormat.of();

    /** FIPS-197 Appendix C: one block under AES-128, -192 and -256, both ways, on each engine. */
    @Test
    void fips197KnownAnswers() {
        String plain = "00112233445566778899aabbccddeeff";
        String[][] vectors = {
                {"000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"},
                {"000102030405060708090a0b0c0d0e0f1011121314151617", "dda97ca4864cdfe06eaf70a0ec0d7191"},
                {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089"},
        };
        for (AesEngine engine : TestEngines.all()) {
            for (String[] v : vectors) {
                byte[] key = HEX.parseHex(v[0]);
                byte[] out = new byte[16];
                try (AesEcb enc = engine.encrypting(key); AesEcb dec = engine.decrypting(key)) {
                    enc.apply(HEX.parseHex(plain), 0, 16, out, 0);
                    assertEquals(v[1], HEX.formatHex(out), engine + " AES-" + key.length * 8);
                    dec.apply(out, 0, 16, out, 0);
                    assertEquals(plain, HEX.formatHex(out), engine + " AES-" + key.length * 8 + " decrypt, in place");
                }
            }
        }
    }

    /** Every engine gives the JCE's bytes, at any length and at any offset into either array. */
    @Test
    void enginesAgreeWithTheJceAtEveryLengthAndOffset() throws Exception {
        Random random = new Random(42);
        for (AesEngine engine : TestEngines.all()) {
            for (int keyBytes : new int[] {16, 24, 32}) {
                byte[] key = new byte[keyBytes];
                random.nextBytes(key);
                Cipher jce = Cipher.getInstance("AES/ECB/NoPadding");
                try (AesEcb enc = engine.encrypting(key); AesEcb dec = engine.decrypting(key)) {
                    for (int length : new int[] {0, 16, 48, 4096, 65536 + 16}) {
                        for (int[] at : new int[][] {{0, 0}, {5, 0}, {0, 7}, {16, 32}}) {
                            byte[] in = new byte[at[0] + length + 3];
                            random.nextBytes(in);
                            byte[] out = new byte[at[1] + length + 9];
                            enc.apply(in, at[0], length, out, at[1]);
                            jce.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
                            byte[] expected = jce.doFinal(in, at[0], length);
                            String what = engine + " AES-" + keyBytes * 8 + ", " + length + " bytes at " + Arrays.toString(at);
                            assertArrayEquals(expected, Arrays.copyOfRange(out, at[1], at[1] + length), what);
                            byte[] back = new byte[length];
                            dec.apply(out, at[1], length, back, 0);
                            assertArrayEquals(Arrays.copyOfRange(in, at[0], at[0] + length), back, what + ", decrypted");
                        }
                    }
                }
            }
        }
    }

    @Test
    void refusesPartialBlocksBadKeysAndUseAfterClose() {
        for (AesEngine engine : TestEngines.all()) {
            assertThrows(IllegalArgumentException.class, () -> engine.encrypting(new byte[20]), engine.label());
            AesEcb enc = engine.encrypting(new byte[32]);
            assertThrows(IllegalArgumentException.class, () -> enc.apply(new byte[32], 0, 17, new byte[32], 0), engine.label());
            assertThrows(IndexOutOfBoundsException.class, () -> enc.apply(new byte[32], 0, 32, new byte[16], 0), engine.label());
            assertThrows(IndexOutOfBoundsException.class, () -> enc.apply(new byte[32], 16, 32, new byte[32], 0), engine.label());
            assertThrows(IndexOutOfBoundsException.class, () -> enc.apply(new byte[32], -16, 16, new byte[32], 0), engine.label());
            enc.close();
            assertThrows(IllegalStateException.class, () -> enc.apply(new byte[16], 0, 16, new byte[16], 0), engine.label());
        }
    }

    /**
     * The default takes the JDK's AES where HotSpot has its wide stub and OpenSSL's elsewhere; the
     * property insists on either, and a wrong value fails every use with the reason.
     */
    @Test
    void theChoiceFollowsTheCpuAndTheProperty() {
        TestEngines.requireOpenSsl();
        AesEngine.Choice auto = AesEngine.Choice.choose("auto");
        assertEquals(AesEngine.Choice.jdkWideStub() != null ? AesEngine.JDK : AesEngine.OPENSSL, auto.engine, auto.reason);
        assertEquals(AesEngine.JDK, AesEngine.Choice.choose("jdk").engine);
        assertEquals(AesEngine.OPENSSL, AesEngine.Choice.choose("OpenSSL").engine);
        AesEngine.Choice wrong = AesEngine.Choice.choose("fastest");
        assertNull(wrong.engine);
        assertTrue(wrong.reason.contains("auto, jdk or openssl"), wrong.reason);
        // This JVM runs without the property: the automatic choice, named with its reason.
        assertNotNull(AesEngine.current());
        assertEquals(auto.engine, AesEngine.current());
        assertTrue(AesEngine.describe().startsWith(auto.engine.label() + ": "), AesEngine.describe());
    }
}
