package io.nbdvault.crypto.luks;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.EncryptedDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.xts.AesXts;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * LUKS volumes on any BlockDevice: format (LUKS2), open (LUKS2 or LUKS1), dump, and key slot
 * management, in the on-disk format cryptsetup reads and writes.
 */
public final class Luks {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String NO_KEY = "No key available with this passphrase";

    private Luks() {
    }

    /**
     * Writes a new LUKS2 header with one key slot. The data segment has a fixed size
     * (the device size less the 16 MiB header, whole sectors) so that data placed after it, such as
     * replica metadata, is never part of the encrypted volume.
     */
    public static void format(BlockDevice device, Passphrase passphrase, LuksFormatOptions options) throws IOException {
        byte[] rawKey = newVolumeKey(options);
        try {
            format(device, passphrase, options, rawKey);
        } finally {
            Arrays.fill(rawKey, (byte) 0);
        }
    }

    /**
     * A fresh random volume key of the size {@code options} asks for (its two XTS halves differ), for
     * a caller that needs the key before the header exists (an array deriving its integrity keys).
     */
    public static byte[] newVolumeKey(LuksFormatOptions options) {
        int keyBytes = options.keyBits() / 8;
        byte[] rawKey = new byte[keyBytes];
        do {
            RANDOM.nextBytes(rawKey);
        } while (Arrays.equals(Arrays.copyOfRange(rawKey, 0, keyBytes / 2), Arrays.copyOfRange(rawKey, keyBytes / 2, keyBytes)));
        return rawKey;
    }

    /** As {@link #format(BlockDevice, Passphrase, LuksFormatOptions)}, with the volume key given (the caller keeps and wipes it). */
    public static void format(BlockDevice device, Passphrase passphrase, LuksFormatOptions options, byte[] volumeKey)
            throws IOException {
        if (volumeKey.length != options.keyBits() / 8) {
            throw new IllegalArgumentException("volume key of " + volumeKey.length + " bytes; " + options.keyBits() + " bits asked");
        }
        long dataOffset = Luks2Metadata.DEFAULT_DATA_OFFSET;
        long payload = device.size() - dataOffset;
        payload -= payload % options.sectorSize();
        if (payload < options.sectorSize()) {
            throw new LuksException("device of " + device.size() + " bytes is too small for LUKS2 (needs more than "
                    + dataOffset + " bytes of header)");
        }
        int keyBytes = volumeKey.length;
        try (VolumeKey key = new VolumeKey(volumeKey.clone())) {
            Luks2Metadata.Digest digest = newDigest(key, List.of(0));
            Kdf kdf = KdfCalibration.forKeyslot(options, RANDOM, keyBytes);
            Luks2Metadata.Keyslot slot = new Luks2Metadata.Keyslot(0, keyBytes, Luks2Metadata.STRIPES, "sha256",
                    Luks2Metadata.KEYSLOTS_OFFSET, Luks2Metadata.areaSize(keyBytes), keyBytes, kdf);
            long hdrSize = Luks2Metadata.METADATA_SIZE;
            long keyslotsSize = dataOffset - 2 * hdrSize;
            ObjectNode json = Luks2Metadata.build(slot,
                    new Luks2Metadata.Segment(dataOffset, payload, 0, options.sectorSize()), digest, hdrSize, keyslotsSize);
            byte[] salt = new byte[64];
            RANDOM.nextBytes(salt);
            Keyslots.store(device, passphrase, kdf, keyBytes, slot.areaOffset(), key, slot.stripes(), slot.afHash(), RANDOM);
            new Luks2Header(hdrSize, 1, options.label(), UUID.randomUUID().toString(), salt, json).write(device);
            DeviceIo.join(device.flush());
        }
    }

    /**
     * Writes a new LUKS1 header with one key slot (PBKDF2-SHA256, 512-byte sectors only), for tools
     * that read nothing newer; the payload runs from 2 MiB to the end of the device.
     */
    public static void formatLuks1(BlockDevice device, Passphrase passphrase, LuksFormatOptions options) throws IOException {
        Luks1Format.format(device, passphrase, options, RANDOM);
    }

    /** Unlocks a LUKS2 or LUKS1 volume. */
    public static LuksVolume open(BlockDevice device, Passphrase passphrase) throws IOException {
        if (Luks1Header.isLuks1(device)) {
            return Luks1Header.read(device).open(device, passphrase);
        }
        Luks2Header header = Luks2Header.read(device);
        Luks2Metadata meta = Luks2Metadata.parse(header.json, header.hdrSize, device.size());
        Unlocked unlocked = unlock(device, meta, passphrase);
        Luks2Metadata.Segment seg = meta.segment;
        byte[] keyCopy = unlocked.key().copy();
        AesXts cipher;
        try {
            cipher = new AesXts(keyCopy);
        } finally {
            Arrays.fill(keyCopy, (byte) 0);
        }
        EncryptedDevice plain = new EncryptedDevice(device, seg.offset(), seg.length(device.size()), cipher,
                seg.sectorSize(), seg.ivTweak());
        return new LuksVolume(plain, unlocked.key(), seg.sectorSize(), seg.offset(), 2);
    }

    private record Unlocked(int slot, VolumeKey key) {
    }

    private static Unlocked unlock(BlockDevice device, Luks2Metadata meta, Passphrase passphrase) throws IOException {
        Luks2Metadata.Digest d = meta.digest;
        for (Luks2Metadata.Keyslot slot : meta.keyslots.values()) {
            if (!d.keyslots().contains(slot.id())) {
                continue;
            }
            byte[] candidate = Keyslots.unlock(device, passphrase, slot.kdf(), slot.areaKeySize(), slot.areaOffset(),
                    slot.keySize(), slot.stripes(), slot.afHash());
            if (candidate == null) {
                continue;
            }
            if (Keyslots.digestMatches(candidate, d.hash(), d.iterations(), d.salt(), d.digest())) {
                return new Unlocked(slot.id(), new VolumeKey(candidate));
            }
            Arrays.fill(candidate, (byte) 0);
        }
        throw new LuksException(NO_KEY);
    }

    /** Adds a key slot for {@code added}, unlocking with {@code existing}; returns the new slot's number. */
    public static int addKey(BlockDevice device, Passphrase existing, Passphrase added, LuksFormatOptions kdfOptions)
            throws IOException {
        Luks2Header header = luks2(device);
        Luks2Metadata meta = Luks2Metadata.parse(header.json, header.hdrSize, device.size());
        try (VolumeKey key = unlock(device, meta, existing).key()) {
            int id = 0;
            while (meta.keyslots.containsKey(id) || header.json.with("keyslots").has(Integer.toString(id))) {
                id++;
            }
            if (id > 31) {
                throw new LuksException("all 32 key slots are in use");
            }
            long size = Luks2Metadata.areaSize(key.length());
            long offset = freeArea(meta, header, size);
            Kdf kdf = KdfCalibration.forKeyslot(kdfOptions, RANDOM, key.length());
            Luks2Metadata.Keyslot slot = new Luks2Metadata.Keyslot(id, key.length(), Luks2Metadata.STRIPES, "sha256",
                    offset, size, key.length(), kdf);
            // Material first: until the header names the slot, the new area is just unused space.
            Keyslots.store(device, added, kdf, key.length(), offset, key, slot.stripes(), slot.afHash(), RANDOM);
            ObjectNode json = header.json.deepCopy();
            Luks2Metadata.putKeyslot(json.with("keyslots"), slot);
            digestSlots(json).add(Integer.toString(id));
            header.withJson(json, header.seqid + 1).write(device);
            DeviceIo.join(device.flush());
            return id;
        }
    }

    /** Removes the key slot {@code passphrase} opens; the last slot only with {@code force}. */
    public static void removeKey(BlockDevice device, Passphrase passphrase, boolean force) throws IOException {
        Luks2Header header = luks2(device);
        Luks2Metadata meta = Luks2Metadata.parse(header.json, header.hdrSize, device.size());
        Unlocked unlocked = unlock(device, meta, passphrase);
        unlocked.key().close();
        if (meta.keyslots.size() == 1 && !force) {
            throw new LuksException("refusing to remove the last key slot: the volume would be lost for good");
        }
        Luks2Metadata.Keyslot slot = meta.keyslots.get(unlocked.slot());
        ObjectNode json = header.json.deepCopy();
        json.with("keyslots").remove(Integer.toString(slot.id()));
        ArrayNode slots = digestSlots(json);
        for (int i = slots.size() - 1; i >= 0; i--) {
            if (slots.get(i).asText().equals(Integer.toString(slot.id()))) {
                slots.remove(i);
            }
        }
        // Header first, then the wipe: a crash in between leaves an unreferenced area, never a dangling slot.
        header.withJson(json, header.seqid + 1).write(device);
        Keyslots.wipe(device, slot.areaOffset(), slot.areaSize(), RANDOM);
        DeviceIo.join(device.flush());
    }

    /** Replaces the passphrase of the slot {@code old} opens with {@code replacement}. */
    public static void changeKey(BlockDevice device, Passphrase old, Passphrase replacement, LuksFormatOptions kdfOptions)
            throws IOException {
        addKey(device, old, replacement, kdfOptions);
        removeKey(device, old, true);
    }

    /** A description of the header in the spirit of {@code cryptsetup luksDump}; no secrets. */
    public static String dump(BlockDevice device) throws IOException {
        if (Luks1Header.isLuks1(device)) {
            return Luks1Header.read(device).dump();
        }
        Luks2Header header = Luks2Header.read(device);
        Luks2Metadata meta = Luks2Metadata.parse(header.json, header.hdrSize, device.size());
        HexFormat hex = HexFormat.of();
        StringBuilder out = new StringBuilder();
        out.append("LUKS header information\n");
        out.append("Version:        2\n");
        out.append("Epoch:          ").append(header.seqid).append('\n');
        out.append("Metadata area:  ").append(header.hdrSize).append(" [bytes]\n");
        out.append("Keyslots area:  ").append(meta.keyslotsSize).append(" [bytes]\n");
        out.append("UUID:           ").append(header.uuid).append('\n');
        out.append("Label:          ").append(header.label.isEmpty() ? "(no label)" : header.label).append('\n');
        out.append("\nData segments:\n  0: crypt\n");
        Luks2Metadata.Segment s = meta.segment;
        out.append("\toffset: ").append(s.offset()).append(" [bytes]\n");
        out.append("\tlength: ").append(s.size() < 0 ? "(whole device)" : s.size() + " [bytes]").append('\n');
        out.append("\tcipher: ").append(Luks2Metadata.CIPHER).append('\n');
        out.append("\tsector: ").append(s.sectorSize()).append(" [bytes]\n");
        out.append("\nKeyslots:\n");
        for (Map.Entry<Integer, Luks2Metadata.Keyslot> e : meta.keyslots.entrySet()) {
            Luks2Metadata.Keyslot k = e.getValue();
            out.append("  ").append(k.id()).append(": luks2\n");
            out.append("\tKey:        ").append(k.keySize() * 8).append(" bits\n");
            out.append("\tPBKDF:      ").append(k.kdf().type().luksName()).append('\n');
            if (k.kdf().type() == Pbkdf.PBKDF2) {
                out.append("\tHash:       ").append(k.kdf().hash()).append('\n');
                out.append("\tIterations: ").append(k.kdf().iterations()).append('\n');
            } else {
                out.append("\tTime cost:  ").append(k.kdf().iterations()).append('\n');
                out.append("\tMemory:     ").append(k.kdf().memoryKiB()).append('\n');
                out.append("\tThreads:    ").append(k.kdf().parallel()).append('\n');
            }
            out.append("\tAF stripes: ").append(k.stripes()).append('\n');
            out.append("\tArea offset:").append(k.areaOffset()).append(" [bytes]\n");
            out.append("\tArea length:").append(k.areaSize()).append(" [bytes]\n");
        }
        out.append("Digests:\n  ").append(meta.digest.id()).append(": pbkdf2\n");
        out.append("\tHash:       ").append(meta.digest.hash()).append('\n');
        out.append("\tIterations: ").append(meta.digest.iterations()).append('\n');
        out.append("\tSalt:       ").append(hex.formatHex(meta.digest.salt())).append('\n');
        return out.toString();
    }

    private static Luks2Header luks2(BlockDevice device) throws IOException {
        if (Luks1Header.isLuks1(device)) {
            throw new LuksException("key management is only supported on LUKS2 volumes (this one is LUKS1)");
        }
        return Luks2Header.read(device);
    }

    private static ArrayNode digestSlots(ObjectNode json) {
        ObjectNode digests = json.with("digests");
        ObjectNode digest = (ObjectNode) digests.elements().next();
        return digest.withArray("keyslots");
    }

    private static long freeArea(Luks2Metadata meta, Luks2Header header, long size) throws LuksException {
        long start = 2 * header.hdrSize;
        long end = start + meta.keyslotsSize;
        long candidate = start;
        boolean moved = true;
        while (moved) {
            moved = false;
            for (Luks2Metadata.Keyslot k : meta.keyslots.values()) {
                if (candidate < k.areaOffset() + k.areaSize() && k.areaOffset() < candidate + size) {
                    candidate = k.areaOffset() + k.areaSize();
                    moved = true;
                }
            }
        }
        if (candidate + size > end) {
            throw new LuksException("no room left in the key slot area");
        }
        return candidate;
    }

    private static Luks2Metadata.Digest newDigest(VolumeKey key, List<Integer> slots) {
        byte[] salt = new byte[32];
        RANDOM.nextBytes(salt);
        int iterations = Math.max(1000, KdfCalibration.pbkdf2Rate(32, 100) / 8);
        byte[] k = key.copy();
        try {
            byte[] digest = new Kdf(Pbkdf.PBKDF2, "sha256", iterations, 0, 1, salt).derive(k, 32);
            return new Luks2Metadata.Digest(0, slots, "sha256", iterations, salt, digest);
        } finally {
            Arrays.fill(k, (byte) 0);
        }
    }

}
