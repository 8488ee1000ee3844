package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.xts.AesXts;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * Key slot material: the volume key, split by the AF splitter and encrypted (aes-xts-plain64,
 * 512-byte sectors, IVs from 0) with a key derived from a passphrase. Shared by LUKS1 and LUKS2.
 */
final class Keyslots {
    private Keyslots() {
    }

    /** Derives the slot key, decrypts and merges the material; null when the passphrase is wrong for it. */
    static byte[] unlock(BlockDevice device, Passphrase passphrase, Kdf kdf, int slotKeySize, long materialOffset,
                         int keySize, int stripes, String afHash) throws IOException {
        byte[] slotKey = kdf.derive(passphrase, slotKeySize);
        byte[] material = DeviceIo.read(device, materialOffset, keySize * stripes);
        try (AesXts xts = new AesXts(slotKey)) {
            xts.decrypt(ByteBuffer.wrap(material), 512, 0, 1);
        } catch (IllegalArgumentException e) {
            return null; // degenerate derived key (equal halves): cannot be the right passphrase
        } finally {
            Arrays.fill(slotKey, (byte) 0);
        }
        try {
            return AfSplitter.merge(material, keySize, stripes, afHash);
        } finally {
            Arrays.fill(material, (byte) 0);
        }
    }

    /** Writes the volume key into a slot area, protected by {@code passphrase}. */
    static void store(BlockDevice device, Passphrase passphrase, Kdf kdf, int slotKeySize, long areaOffset,
                      VolumeKey volumeKey, int stripes, String afHash, SecureRandom random) throws IOException {
        byte[] key = volumeKey.copy();
        byte[] material;
        try {
            material = AfSplitter.split(key, stripes, afHash, random);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
        byte[] slotKey = kdf.derive(passphrase, slotKeySize);
        try (AesXts xts = new AesXts(slotKey)) {
            xts.encrypt(ByteBuffer.wrap(material), 512, 0, 1);
        } finally {
            Arrays.fill(slotKey, (byte) 0);
        }
        DeviceIo.write(device, areaOffset, material);
    }

    /** Overwrites a slot area with random bytes so the old key material is gone. */
    static void wipe(BlockDevice device, long areaOffset, long areaSize, SecureRandom random) throws IOException {
        byte[] noise = new byte[(int) areaSize];
        random.nextBytes(noise);
        DeviceIo.write(device, areaOffset, noise);
    }

    static boolean digestMatches(byte[] candidate, String hash, int iterations, byte[] salt, byte[] expected) {
        byte[] computed = new Kdf(Pbkdf.PBKDF2, hash, iterations, 0, 1, salt).derive(candidate, expected.length);
        return MessageDigest.isEqual(computed, expected);
    }
}
