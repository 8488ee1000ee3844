package io.nbdvault.transport.iscsi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * What an {@code iscsi://} member names: portal, target, LUN, credentials and digest preferences.
 * Secrets are byte arrays that never appear in {@link #toString()}.
 *
 * @param headerDigest what we offer for HeaderDigest: "None", "CRC32C", "CRC32C,None" or "None,CRC32C"
 * @param dataDigest   the same for DataDigest
 */
public record IscsiTarget(String host, int port, String targetName, int lun, String user, byte[] secret,
                          String targetUser, byte[] targetSecret, String headerDigest, String dataDigest,
                          String initiatorName) {
    public static final int DEFAULT_PORT = 3260;
    public static final String DEFAULT_INITIATOR = "iqn.2024-01.io.nbdvault:initiator";

    public boolean chap() {
        return user != null;
    }

    public boolean mutualChap() {
        return targetUser != null;
    }

    public IscsiTarget withSecrets(String user, byte[] secret, String targetUser, byte[] targetSecret) {
        return new IscsiTarget(host, port, targetName, lun, user, secret, targetUser, targetSecret, headerDigest,
                dataDigest, initiatorName);
    }

    public IscsiTarget withDigests(String header, String data) {
        return new IscsiTarget(host, port, targetName, lun, user, secret, targetUser, targetSecret, header, data,
                initiatorName);
    }

    /**
     * The ISID (RFC 7143 §11.12.5, random format): derived from the member's address, so every
     * reconnect — even from a new process — names the same session and replaces a stale one
     * instead of leaving it behind.
     */
    public byte[] isid() {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((initiatorName + "|" + host + "|" + port + "|"
                    + targetName + "|" + lun).getBytes(StandardCharsets.UTF_8));
            byte[] isid = Arrays.copyOf(h, 6);
            isid[0] = (byte) 0x80; // T=10b: random; A=0
            return isid;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** iscsi://user:***@host:port/iqn/lun — never the secrets. */
    @Override
    public String toString() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return "iscsi://" + (user != null ? user + ":***@" : "") + h + (port != DEFAULT_PORT ? ":" + port : "") + "/"
                + targetName + "/" + lun;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IscsiTarget t && toString().equals(t.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }
}
