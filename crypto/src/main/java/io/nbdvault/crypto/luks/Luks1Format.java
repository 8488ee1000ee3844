package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.UUID;

/**
 * Writes a LUKS1 header the way `cryptsetup luksFormat --type luks1` lays it out: aes-xts-plain64,
 * PBKDF2 with SHA-256, 4000 AF stripes, eight key slots whose areas start at sector 8 and are
 * 4 KiB-aligned, and the payload at sector 4096 (2 MiB). For volumes that must also open in older
 * tools (qemu's luks driver, nbdkit's luks filter); LUKS2 remains the default.
 */
final class Luks1Format {
    static final int STRIPES = 4000;
    static final int SLOTS = 8;
    static final long PAYLOAD_SECTOR = 4096;
    private static final int FIRST_SLOT_SECTOR = 8;
    private static final int KEY_ENABLED = 0x00AC71F3;
    private static final int KEY_DISABLED = 0x0000DEAD;
    private static final String HASH = "sha256";
    /** cryptsetup's floor for the volume-key digest's PBKDF2 iterations. */
    private static final int MIN_DIGEST_ITERATIONS = 1000;

    private Luks1Format() {
    }

    static void format(BlockDevice device, Passphrase passphrase, LuksFormatOptions options, SecureRandom random)
            throws IOException {
        if (options.pbkdf() != Pbkdf.PBKDF2) {
            throw new LuksException("LUKS1 key slots use PBKDF2 only: add --pbkdf pbkdf2");
        }
        if (options.sectorSize() != 512) {
            throw new LuksException("LUKS1 encrypts 512-byte sectors only");
        }
        if (device.size() < (PAYLOAD_SECTOR + 1) * 512) {
            throw new LuksException("device of " + device.size() + " bytes is too small for LUKS1 (needs more than "
                    + PAYLOAD_SECTOR * 512 + " bytes of header)");
        }
        int keyBytes = options.keyBits() / 8;
        int slotSectors = alignTo8((keyBytes * STRIPES + 511) / 512);
        byte[] rawKey = new byte[keyBytes];
        do {
            random.nextBytes(rawKey);
        } while (Arrays.equals(Arrays.copyOfRange(rawKey, 0, keyBytes / 2), Arrays.copyOfRange(rawKey, keyBytes / 2, keyBytes)));
        try (VolumeKey key = new VolumeKey(rawKey)) {
            Kdf slotKdf = KdfCalibration.forKeyslot(options, random, keyBytes);
            byte[] digestSalt = new byte[32];
            random.nextBytes(digestSalt);
            int digestIterations = Math.max(MIN_DIGEST_ITERATIONS, slotKdf.iterations() / 8);
            byte[] volumeKey = key.copy();
            byte[] digest;
            try {
                digest = new Kdf(Pbkdf.PBKDF2, HASH, digestIterations, 0, 1, digestSalt).derive(volumeKey, 20);
            } finally {
                Arrays.fill(volumeKey, (byte) 0);
            }
            Keyslots.store(device, passphrase, slotKdf, keyBytes, FIRST_SLOT_SECTOR * 512L, key, STRIPES, HASH, random);
            DeviceIo.write(device, 0, header(keyBytes, digest, digestSalt, digestIterations, slotKdf, slotSectors));
            DeviceIo.join(device.flush());
        }
    }

    private static byte[] header(int keyBytes, byte[] digest, byte[] digestSalt, int digestIterations, Kdf slot0,
                                 int slotSectors) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        b.put(Luks2Header.MAGIC_PRIMARY).putShort((short) 1);
        putString(b, 8, "aes", 32);
        putString(b, 40, "xts-plain64", 32);
        putString(b, 72, HASH, 32);
        b.putInt(104, (int) PAYLOAD_SECTOR).putInt(108, keyBytes);
        b.put(112, digest).put(132, digestSalt).putInt(164, digestIterations);
        putString(b, 168, UUID.randomUUID().toString(), 40);
        for (int i = 0; i < SLOTS; i++) {
            int base = 208 + i * 48;
            b.putInt(base, i == 0 ? KEY_ENABLED : KEY_DISABLED);
            if (i == 0) {
                b.putInt(base + 4, slot0.iterations()).put(base + 8, slot0.salt());
            }
            b.putInt(base + 40, FIRST_SLOT_SECTOR + i * slotSectors).putInt(base + 44, STRIPES);
        }
        return b.array();
    }

    private static int alignTo8(int sectors) {
        return (sectors + 7) & ~7;
    }

    private static void putString(ByteBuffer b, int offset, String value, int max) {
        byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
        b.put(offset, bytes, 0, Math.min(bytes.length, max - 1));
    }
}
