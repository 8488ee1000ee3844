package io.nbdvault.transport.iscsi;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;

/** CHAP with MD5 (RFC 1994, CHAP_A=5) as iSCSI uses it (RFC 7143 §12.1.3): binary values as 0x-hex or 0b-base64. */
public final class Chap {
    static final int MD5 = 5;
    /** RFC 7143 allows challenges up to 1024 bytes; longer ones are refused. */
    static final int MAX_CHALLENGE = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Chap() {
    }

    /** MD5(identifier || secret || challenge). */
    public static byte[] response(int identifier, byte[] secret, byte[] challenge) {
        try {
            MessageDigest md5 = MessageDigest.getInstance("MD5");
            md5.update((byte) identifier);
            md5.update(secret);
            md5.update(challenge);
            return md5.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is missing from this JDK", e);
        }
    }

    /** Decodes a CHAP binary value: 0x/0X hex or 0b/0B base64. */
    public static byte[] decode(String value) {
        if (value.length() > 2 && (value.startsWith("0x") || value.startsWith("0X"))) {
            String hex = value.substring(2);
            if (hex.length() % 2 == 1) {
                hex = "0" + hex;
            }
            return HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT));
        }
        if (value.length() > 2 && (value.startsWith("0b") || value.startsWith("0B"))) {
            return Base64.getDecoder().decode(value.substring(2));
        }
        throw new IllegalArgumentException("CHAP value is neither 0x-hex nor 0b-base64");
    }

    public static String encode(byte[] value) {
        return "0x" + HexFormat.of().formatHex(value);
    }

    static byte[] challenge() {
        byte[] c = new byte[16];
        RANDOM.nextBytes(c);
        return c;
    }

    static int identifier() {
        return RANDOM.nextInt(256);
    }
}
