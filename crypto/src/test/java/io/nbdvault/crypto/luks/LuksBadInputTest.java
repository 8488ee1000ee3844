package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.crypto.Passphrase;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong passphrases and damaged headers: clear errors, and a surviving header copy still opens. */
@Timeout(120)
class LuksBadInputTest {
    private MemoryDevice device;

    @BeforeEach
    void format() throws Exception {
        device = new MemoryDevice(LuksInteropTest.SIZE);
        Luks.format(device, LuksInteropTest.pass(), LuksInteropTest.cheap(Pbkdf.ARGON2ID, 512));
    }

    private void corrupt(long offset, int length) {
        byte[] noise = new byte[length];
        java.util.Arrays.fill(noise, (byte) 0x5a);
        device.write(offset, Unpooled.wrappedBuffer(noise), 0).join();
    }

    private void opens() throws Exception {
        try (LuksVolume v = Luks.open(device, LuksInteropTest.pass())) {
            assertEquals(LuksInteropTest.SIZE - (16 << 20), v.plaintext().size());
        }
    }

    @Test
    void wrongPassphraseSaysSo() {
        LuksException e = assertThrows(LuksException.class,
                () -> Luks.open(device, Passphrase.ofBytes("nope".getBytes(StandardCharsets.UTF_8))));
        assertEquals("No key available with this passphrase", e.getMessage());
    }

    @Test
    void eitherHeaderCopyAloneStillOpens() throws Exception {
        corrupt(0, 512);                       // primary binary header
        opens();
        format();
        corrupt(4096 + 100, 64);               // primary JSON area: checksum fails
        opens();
        format();
        corrupt(0x4000 + 200, 64);             // secondary copy
        opens();
    }

    @Test
    void bothCopiesCorruptIsAClearError() {
        corrupt(4096 + 10, 16);
        corrupt(0x4000 + 4096 + 10, 16);
        LuksException e = assertThrows(LuksException.class, () -> Luks.open(device, LuksInteropTest.pass()));
        assertTrue(e.getMessage().contains("no valid LUKS2 header"), e.getMessage());
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
    }

    @Test
    void truncatedDeviceIsAClearError() throws Exception {
        BlockDevice tiny = new MemoryDevice(4096 + 100);
        LuksException e = assertThrows(LuksException.class, () -> Luks.open(tiny, LuksInteropTest.pass()));
        assertTrue(e.getMessage().contains("no valid LUKS2 header"), e.getMessage());
        assertThrows(LuksException.class, () -> Luks.format(new MemoryDevice(1 << 20), LuksInteropTest.pass(),
                LuksFormatOptions.defaults()));
    }

    @Test
    void absurdOrUnsupportedMetadataIsRefusedBeforeAnyWork() throws Exception {
        Luks2Header header = Luks2Header.read(device);
        var json = header.json.deepCopy();
        json.with("keyslots").with("0").with("kdf").put("memory", 1 << 30);
        header.withJson(json, header.seqid + 1).write(device);
        LuksException memory = assertThrows(LuksException.class, () -> Luks.open(device, LuksInteropTest.pass()));
        assertTrue(memory.getMessage().contains("Argon2 cost out of range"), memory.getMessage());

        json = header.json.deepCopy();
        json.with("segments").with("0").put("encryption", "serpent-cbc-essiv:sha256");
        header.withJson(json, header.seqid + 2).write(device);
        LuksException cipher = assertThrows(LuksException.class, () -> Luks.open(device, LuksInteropTest.pass()));
        assertTrue(cipher.getMessage().contains("unsupported cipher 'serpent-cbc-essiv:sha256'"), cipher.getMessage());

        json = header.json.deepCopy();
        json.with("segments").with("0").put("size", "999999999999999");
        header.withJson(json, header.seqid + 3).write(device);
        LuksException size = assertThrows(LuksException.class, () -> Luks.open(device, LuksInteropTest.pass()));
        assertTrue(size.getMessage().contains("does not fit"), size.getMessage());

        json = header.json.deepCopy();
        json.remove("config");
        header.withJson(json, header.seqid + 4).write(device);
        assertThrows(LuksException.class, () -> Luks.open(device, LuksInteropTest.pass()));
    }

    @Test
    void calibrationAimsAtTheRequestedTime() {
        Kdf kdf = KdfCalibration.forKeyslot(LuksFormatOptions.defaults().withIterTime(Duration.ofMillis(200))
                .withCost(0, 8192, 1), new java.security.SecureRandom(), 64);
        assertEquals(Pbkdf.ARGON2ID, kdf.type());
        assertTrue(kdf.iterations() >= 4, "at least cryptsetup's minimum time cost");
        Kdf pbkdf2 = KdfCalibration.forKeyslot(LuksFormatOptions.defaults().withPbkdf(Pbkdf.PBKDF2)
                .withIterTime(Duration.ofMillis(100)), new java.security.SecureRandom(), 64);
        assertTrue(pbkdf2.iterations() >= 1000, "at least 1000 PBKDF2 iterations");
    }
}
