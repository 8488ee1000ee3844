package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.EncryptedDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.xts.AesXts;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A LUKS1 header (what qemu-img and nbdkit's luks filter create), read for migration:
 * aes-xts-plain64 with sha1/sha256/sha512 PBKDF2 key slots.
 */
final class Luks1Header {
    private static final int SIZE = 592;
    private static final int KEY_ENABLED = 0x00AC71F3;

    private record Slot(int index, int iterations, byte[] salt, long materialSector, int stripes) {
    }

    private final String cipher;
    private final String mode;
    private final String hash;
    private final long payloadSector;
    private final int keyBytes;
    private final byte[] digest;
    private final byte[] digestSalt;
    private final int digestIterations;
    private final String uuid;
    private final Slot[] slots;

    private Luks1Header(String cipher, String mode, String hash, long payloadSector, int keyBytes, byte[] digest,
                        byte[] digestSalt, int digestIterations, String uuid, Slot[] slots) {
        this.cipher = cipher;
        this.mode = mode;
        this.hash = hash;
        this.payloadSector = payloadSector;
        this.keyBytes = keyBytes;
        this.digest = digest;
        this.digestSalt = digestSalt;
        this.digestIterations = digestIterations;
        this.uuid = uuid;
        this.slots = slots;
    }

    static boolean isLuks1(BlockDevice device) throws IOException {
        if (device.size() < SIZE) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(DeviceIo.read(device, 0, 8));
        byte[] magic = new byte[6];
        b.get(magic);
        return Arrays.equals(magic, Luks2Header.MAGIC_PRIMARY) && b.getShort() == 1;
    }

    static Luks1Header read(BlockDevice device) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(DeviceIo.read(device, 0, SIZE));
        String cipher = cString(b, 8, 32);
        String mode = cString(b, 40, 32);
        String hash = cString(b, 72, 32);
        if (!cipher.equals("aes") || !mode.equals("xts-plain64")) {
            throw new LuksException("unsupported LUKS1 cipher '" + cipher + "-" + mode + "' (nbdvault supports aes-xts-plain64)");
        }
        Kdf.digest(hash);
        long payload = Integer.toUnsignedLong(b.getInt(104));
        int keyBytes = b.getInt(108);
        if (keyBytes != 32 && keyBytes != 64) {
            throw new LuksException("LUKS1 key size " + keyBytes + " is not supported");
        }
        if (payload * 512 > device.size()) {
            throw new LuksException("LUKS1 payload offset is beyond the end of the device");
        }
        Slot[] slots = new Slot[8];
        for (int i = 0; i < 8; i++) {
            int base = 208 + i * 48;
            if (b.getInt(base) == KEY_ENABLED) {
                long sector = Integer.toUnsignedLong(b.getInt(base + 40));
                int stripes = b.getInt(base + 44);
                if (stripes < 1 || stripes > 100_000 || sector * 512 + (long) keyBytes * stripes > device.size()) {
                    throw new LuksException("LUKS1 key slot " + i + " is corrupt");
                }
                slots[i] = new Slot(i, b.getInt(base + 4), Arrays.copyOfRange(b.array(), base + 8, base + 40), sector, stripes);
            }
        }
        return new Luks1Header(cipher, mode, hash, payload, keyBytes, Arrays.copyOfRange(b.array(), 112, 132),
                Arrays.copyOfRange(b.array(), 132, 164), b.getInt(164), cString(b, 168, 40), slots);
    }

    LuksVolume open(BlockDevice device, Passphrase passphrase) throws IOException {
        for (Slot slot : slots) {
            if (slot == null) {
                continue;
            }
            Kdf kdf = new Kdf(Pbkdf.PBKDF2, hash, Math.max(1, slot.iterations()), 0, 1, slot.salt());
            kdf.validate();
            byte[] candidate = Keyslots.unlock(device, passphrase, kdf, keyBytes, slot.materialSector() * 512,
                    keyBytes, slot.stripes(), hash);
            if (candidate == null) {
                continue;
            }
            if (Keyslots.digestMatches(candidate, hash, Math.max(1, digestIterations), digestSalt, digest)) {
                VolumeKey key = new VolumeKey(candidate);
                byte[] copy = key.copy();
                AesXts xts;
                try {
                    xts = new AesXts(copy);
                } finally {
                    Arrays.fill(copy, (byte) 0);
                }
                long offset = payloadSector * 512;
                long size = device.size() - offset;
                size -= size % 512;
                return new LuksVolume(new EncryptedDevice(device, offset, size, xts, 512, 0), key, 512, offset, 1);
            }
            Arrays.fill(candidate, (byte) 0);
        }
        throw new LuksException("No key available with this passphrase");
    }

    String dump() {
        StringBuilder out = new StringBuilder("LUKS header information for LUKS1\n\n");
        out.append("Version:        1\n");
        out.append("Cipher name:    ").append(cipher).append('\n');
        out.append("Cipher mode:    ").append(mode).append('\n');
        out.append("Hash spec:      ").append(hash).append('\n');
        out.append("Payload offset: ").append(payloadSector).append('\n');
        out.append("MK bits:        ").append(keyBytes * 8).append('\n');
        out.append("UUID:           ").append(uuid).append('\n');
        for (int i = 0; i < 8; i++) {
            out.append("Key Slot ").append(i).append(": ").append(slots[i] == null ? "DISABLED" : "ENABLED").append('\n');
        }
        return out.toString();
    }

    private static String cString(ByteBuffer b, int offset, int max) {
        int end = offset;
        while (end < offset + max && b.get(end) != 0) {
            end++;
        }
        return new String(b.array(), offset, end - offset, StandardCharsets.US_ASCII);
    }
}
