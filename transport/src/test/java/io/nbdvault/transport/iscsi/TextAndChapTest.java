package io.nbdvault.transport.iscsi;

import io.nbdvault.transport.ReplicaUri;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextAndChapTest {
    @Test
    void textPairsRoundTripAndBadTextIsRefused() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("InitiatorName", "iqn.2024-01.io.nbdvault:x");
        m.put("AuthMethod", "CHAP,None");
        byte[] wire = TextParameters.encode(m);
        assertEquals("InitiatorName=iqn.2024-01.io.nbdvault:x\0AuthMethod=CHAP,None\0",
                new String(wire, StandardCharsets.UTF_8));
        assertEquals(m, TextParameters.parse(wire));
        assertEquals(Map.of("A", "1", "B", ""), TextParameters.parse("A=1\0B=\0\0\0".getBytes(StandardCharsets.UTF_8)));
        assertEquals(Map.of("A", "1"), TextParameters.parse("A=1".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> TextParameters.parse("novalue\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> TextParameters.parse("=x\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> TextParameters.parse("A=1\0A=2\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> TextParameters.parse(("K".repeat(64) + "=1").getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void chapResponseIsMd5OfIdSecretChallenge() throws Exception {
        byte[] secret = "secretsecret".getBytes(StandardCharsets.UTF_8);
        byte[] challenge = Chap.decode("0x0102030405");
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update((byte) 7);
        md5.update(secret);
        md5.update(new byte[] {1, 2, 3, 4, 5});
        assertArrayEquals(md5.digest(), Chap.response(7, secret, challenge));
        assertArrayEquals(new byte[] {1, 2, 3}, Chap.decode("0b" + java.util.Base64.getEncoder().encodeToString(new byte[] {1, 2, 3})));
        assertArrayEquals(new byte[] {0x0a, (byte) 0xbc}, Chap.decode("0XABC"));
        assertEquals("0x0abc", Chap.encode(new byte[] {0x0a, (byte) 0xbc}));
        assertThrows(IllegalArgumentException.class, () -> Chap.decode("abc"));
    }

    @Test
    void libiscsiUrisParseAndNeverShowASecret() {
        ReplicaUri r = ReplicaUri.parse("iscsi://alice%s3cr3t@storage1:3261/iqn.2024-01.test:disk1/2"
                + "?target_user=tgt&target_password=t4rg3t&header_digest=crc32c-none", k -> null);
        assertEquals(ReplicaUri.Kind.ISCSI, r.kind());
        IscsiTarget t = r.iscsi();
        assertEquals("storage1", t.host());
        assertEquals(3261, t.port());
        assertEquals("iqn.2024-01.test:disk1", t.targetName());
        assertEquals(2, t.lun());
        assertEquals("alice", t.user());
        assertArrayEquals("s3cr3t".getBytes(StandardCharsets.UTF_8), t.secret());
        assertEquals("tgt", t.targetUser());
        assertEquals("CRC32C,None", t.headerDigest());
        assertEquals("None", t.dataDigest());
        assertEquals("iscsi://alice:***@storage1:3261/iqn.2024-01.test:disk1/2", r.toString());
        assertFalse(t.toString().contains("s3cr3t"));
        String shown = ReplicaUri.redact("iscsi://alice%s3c@r3t@storage1/iqn.x/0?target_user=u&target_password=t4rg3t");
        assertFalse(shown.contains("s3c") || shown.contains("r3t") || shown.contains("t4rg3t"), shown);
        assertTrue(shown.startsWith("iscsi://alice:***@storage1/"), shown);
        assertEquals("nbd://h:1/e", ReplicaUri.redact("nbd://h:1/e"));

        IscsiTarget env = ReplicaUri.parse("iscsi://bob@[::1]/iqn.y/0", k -> k.equals("LIBISCSI_CHAP_PASSWORD") ? "pw" : null).iscsi();
        assertEquals("::1", env.host());
        assertEquals(3260, env.port());
        assertArrayEquals("pw".getBytes(StandardCharsets.UTF_8), env.secret());
        IscsiTarget none = ReplicaUri.parse("iscsi://10.0.0.1/iqn.z/1", k -> null).iscsi();
        assertNull(none.user());
        assertArrayEquals(none.isid(), ReplicaUri.parse("iscsi://10.0.0.1/iqn.z/1", k -> null).iscsi().isid());
        assertEquals((byte) 0x80, none.isid()[0]);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ReplicaUri.parse("iscsi://alice%hunter2@host/iqn.x/notalun", k -> null));
        assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ReplicaUri.parse("iscsi://host/iqn.x", k -> null));
        assertThrows(IllegalArgumentException.class, () -> ReplicaUri.parse("iscsi://host/iqn.x/0?bogus=1", k -> null));
    }

    /** Members are named by their redacted URI; the context reopens such a name with the secret it saw. */
    @Test
    void redactedNamesReopenWithTheirSecret() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: connections are refused
        }
        String full = "iscsi://alice%pw1234@127.0.0.1:" + port + "/iqn.2024-01.test:x/1";
        try (io.nbdvault.transport.TransportContext ctx = IscsiTargets.context(java.time.Duration.ofSeconds(2))) {
            String first = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> ctx.open(full).get(10, java.util.concurrent.TimeUnit.SECONDS)).getCause().getMessage();
            String again = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> ctx.open(ReplicaUri.redact(full)).get(10, java.util.concurrent.TimeUnit.SECONDS)).getCause().getMessage();
            assertTrue(first.contains("cannot connect") && again.contains("cannot connect"), first + " / " + again);
            assertFalse(first.contains("pw1234") || again.contains("pw1234"));
        }
    }

    @Test
    void senseDataBecomesClearErrors() {
        byte[] fixed = new byte[18];
        fixed[0] = (byte) 0xf0;
        fixed[2] = 0x03;
        fixed[3] = 0;
        fixed[4] = 0;
        fixed[5] = 0x12;
        fixed[6] = 0x34;
        fixed[12] = 0x11;
        Sense s = Sense.parse(fixed);
        assertTrue(s.describe().startsWith("medium error at LBA 4660"), s.describe());
        byte[] descriptor = {0x72, 0x07, 0x27, 0x00, 0, 0, 0, 0};
        assertTrue(Sense.parse(descriptor).describe().startsWith("write protected"));
        assertEquals(io.nbdvault.core.Errno.EPERM, Sense.parse(descriptor).errno());
        byte[] notReady = {0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x00};
        assertTrue(Sense.parse(notReady).describe().startsWith("not ready"));
        assertNull(Sense.parse(new byte[] {0x70}));
    }
}
