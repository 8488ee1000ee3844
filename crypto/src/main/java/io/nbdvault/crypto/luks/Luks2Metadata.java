package io.nbdvault.crypto.luks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The parts of the LUKS2 JSON metadata nbdvault uses, checked for sense (a hostile header must
 * produce a clear error, not an allocation of gigabytes or a read outside the device).
 */
final class Luks2Metadata {
    static final String CIPHER = "aes-xts-plain64";
    static final int STRIPES = 4000;
    static final long KEYSLOTS_OFFSET = 0x8000;
    static final long DEFAULT_DATA_OFFSET = 16L << 20;
    static final int METADATA_SIZE = 0x4000;

    record Keyslot(int id, int keySize, int stripes, String afHash, long areaOffset, long areaSize,
                   int areaKeySize, Kdf kdf) {
        long materialSize() {
            return (long) keySize * stripes;
        }
    }

    record Segment(long offset, long size, long ivTweak, int sectorSize) {
        /** Bytes of the segment on a device of {@code deviceSize} bytes ("dynamic" runs to the end). */
        long length(long deviceSize) {
            long n = size >= 0 ? size : deviceSize - offset;
            return n - n % sectorSize;
        }
    }

    record Digest(int id, List<Integer> keyslots, String hash, int iterations, byte[] salt, byte[] digest) {
    }

    final Map<Integer, Keyslot> keyslots = new TreeMap<>();
    final Segment segment;
    final Digest digest;
    final long keyslotsSize;

    private Luks2Metadata(Segment segment, Digest digest, long keyslotsSize) {
        this.segment = segment;
        this.digest = digest;
        this.keyslotsSize = keyslotsSize;
    }

    static Luks2Metadata parse(ObjectNode json, long hdrSize, long deviceSize) throws LuksException {
        ObjectNode config = object(json, "config");
        long jsonSize = number(config, "json_size");
        long keyslotsSize = number(config, "keyslots_size");
        if (jsonSize != hdrSize - Luks2Header.BINARY_SIZE) {
            throw new LuksException("config.json_size " + jsonSize + " does not match the header size " + hdrSize);
        }
        if (json.has("requirements") || (config.has("requirements") && config.get("requirements").size() > 0)) {
            throw new LuksException("the volume has LUKS2 requirements (e.g. online reencryption) nbdvault does not support");
        }
        ObjectNode segments = object(json, "segments");
        if (segments.size() != 1 || !segments.has("0")) {
            throw new LuksException("exactly one data segment (\"0\") is supported, found " + segments.size());
        }
        ObjectNode seg = object(segments, "0");
        if (!"crypt".equals(text(seg, "type"))) {
            throw new LuksException("segment type '" + text(seg, "type") + "' is not supported");
        }
        requireCipher(text(seg, "encryption"));
        int sectorSize = (int) integer(seg, "sector_size");
        if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
            throw new LuksException("invalid sector size " + sectorSize);
        }
        long offset = number(seg, "offset");
        String sizeText = text(seg, "size");
        long size = "dynamic".equals(sizeText) ? -1 : parseNumber(sizeText, "segment size");
        if (offset % 4096 != 0 || offset < 2L * hdrSize
                || offset > deviceSize || (size >= 0 && (size > deviceSize - offset || size % sectorSize != 0))) {
            throw new LuksException("data segment " + offset + "+" + sizeText + " does not fit the " + deviceSize
                    + "-byte device");
        }
        Segment segment = new Segment(offset, size, number(seg, "iv_tweak"), sectorSize);

        ObjectNode digests = object(json, "digests");
        if (digests.size() != 1) {
            throw new LuksException("exactly one digest is supported, found " + digests.size());
        }
        Map.Entry<String, JsonNode> d = digests.fields().next();
        ObjectNode dig = asObject(d.getValue(), "digest " + d.getKey());
        if (!"pbkdf2".equals(text(dig, "type"))) {
            throw new LuksException("digest type '" + text(dig, "type") + "' is not supported");
        }
        List<Integer> digestSlots = new ArrayList<>();
        for (JsonNode k : array(dig, "keyslots")) {
            digestSlots.add(parseId(k.asText()));
        }
        Digest digest = new Digest(parseId(d.getKey()), digestSlots, text(dig, "hash"),
                (int) integer(dig, "iterations"), base64(dig, "salt"), base64(dig, "digest"));
        new Kdf(Pbkdf.PBKDF2, digest.hash(), Math.max(1, digest.iterations()), 0, 1, digest.salt()).validate();

        Luks2Metadata meta = new Luks2Metadata(segment, digest, keyslotsSize);
        ObjectNode slots = object(json, "keyslots");
        for (Iterator<Map.Entry<String, JsonNode>> it = slots.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = parseId(e.getKey());
            ObjectNode slot = asObject(e.getValue(), "keyslot " + id);
            if (!"luks2".equals(text(slot, "type"))) {
                continue; // other key slot types (reencryption) are not ours to open
            }
            ObjectNode af = object(slot, "af");
            ObjectNode area = object(slot, "area");
            ObjectNode kdf = object(slot, "kdf");
            requireCipher(text(area, "encryption"));
            Pbkdf type = Pbkdf.fromLuksName(text(kdf, "type"));
            Kdf k = type == Pbkdf.PBKDF2
                    ? new Kdf(type, text(kdf, "hash"), (int) integer(kdf, "iterations"), 0, 1, base64(kdf, "salt"))
                    : new Kdf(type, null, (int) integer(kdf, "time"), (int) integer(kdf, "memory"),
                    (int) integer(kdf, "cpus"), base64(kdf, "salt"));
            k.validate();
            Keyslot ks = new Keyslot(id, (int) integer(slot, "key_size"), (int) integer(af, "stripes"), text(af, "hash"),
                    number(area, "offset"), number(area, "size"), (int) integer(area, "key_size"), k);
            if (ks.keySize() != 32 && ks.keySize() != 64 || ks.areaKeySize() != 32 && ks.areaKeySize() != 64) {
                throw new LuksException("keyslot " + id + ": key size must be 32 or 64 bytes");
            }
            if (ks.stripes() < 1 || ks.stripes() > 100_000 || ks.materialSize() > ks.areaSize()
                    || ks.materialSize() % 512 != 0 || ks.areaOffset() < 2 * hdrSize
                    || ks.areaOffset() + ks.areaSize() > deviceSize || ks.areaSize() > 64L << 20) {
                throw new LuksException("keyslot " + id + ": key material area " + ks.areaOffset() + "+" + ks.areaSize()
                        + " is invalid");
            }
            Kdf.digest(ks.afHash());
            meta.keyslots.put(id, ks);
        }
        return meta;
    }

    /** The JSON of a fresh volume with one key slot. */
    static ObjectNode build(Keyslot slot, Segment segment, Digest digest, long hdrSize, long keyslotsSize) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ObjectNode slots = root.putObject("keyslots");
        putKeyslot(slots, slot);
        root.putObject("tokens");
        ObjectNode seg = root.putObject("segments").putObject("0");
        seg.put("type", "crypt").put("offset", Long.toString(segment.offset()))
                .put("size", segment.size() < 0 ? "dynamic" : Long.toString(segment.size()))
                .put("iv_tweak", Long.toString(segment.ivTweak())).put("encryption", CIPHER)
                .put("sector_size", segment.sectorSize());
        ObjectNode dig = root.putObject("digests").putObject(Integer.toString(digest.id()));
        dig.put("type", "pbkdf2");
        ArrayNode ks = dig.putArray("keyslots");
        digest.keyslots().forEach(id -> ks.add(Integer.toString(id)));
        dig.putArray("segments").add("0");
        dig.put("hash", digest.hash()).put("iterations", digest.iterations())
                .put("salt", Base64.getEncoder().encodeToString(digest.salt()))
                .put("digest", Base64.getEncoder().encodeToString(digest.digest()));
        root.putObject("config").put("json_size", Long.toString(hdrSize - Luks2Header.BINARY_SIZE))
                .put("keyslots_size", Long.toString(keyslotsSize));
        return root;
    }

    static void putKeyslot(ObjectNode slots, Keyslot slot) {
        ObjectNode s = slots.putObject(Integer.toString(slot.id()));
        s.put("type", "luks2").put("key_size", slot.keySize());
        s.putObject("af").put("type", "luks1").put("stripes", slot.stripes()).put("hash", slot.afHash());
        s.putObject("area").put("type", "raw").put("offset", Long.toString(slot.areaOffset()))
                .put("size", Long.toString(slot.areaSize())).put("encryption", CIPHER).put("key_size", slot.areaKeySize());
        ObjectNode kdf = s.putObject("kdf");
        Kdf k = slot.kdf();
        kdf.put("type", k.type().luksName());
        if (k.type() == Pbkdf.PBKDF2) {
            kdf.put("hash", k.hash()).put("iterations", k.iterations());
        } else {
            kdf.put("time", k.iterations()).put("memory", k.memoryKiB()).put("cpus", k.parallel());
        }
        kdf.put("salt", Base64.getEncoder().encodeToString(k.salt()));
    }

    /** Area size for a key of {@code keySize} bytes: the split material, rounded up to 4 KiB. */
    static long areaSize(int keySize) {
        long material = (long) keySize * STRIPES;
        return (material + 4095) / 4096 * 4096;
    }

    private static void requireCipher(String cipher) throws LuksException {
        if (!CIPHER.equals(cipher)) {
            throw new LuksException("unsupported cipher '" + cipher + "' (nbdvault supports " + CIPHER + ")");
        }
    }

    private static ObjectNode object(ObjectNode parent, String field) throws LuksException {
        return asObject(parent.get(field), "'" + field + "'");
    }

    private static ObjectNode asObject(JsonNode node, String what) throws LuksException {
        if (!(node instanceof ObjectNode o)) {
            throw new LuksException("LUKS2 metadata: " + what + " is missing or not an object");
        }
        return o;
    }

    private static ArrayNode array(ObjectNode parent, String field) throws LuksException {
        if (!(parent.get(field) instanceof ArrayNode a)) {
            throw new LuksException("LUKS2 metadata: '" + field + "' is missing or not an array");
        }
        return a;
    }

    private static String text(ObjectNode parent, String field) throws LuksException {
        JsonNode n = parent.get(field);
        if (n == null || !n.isTextual()) {
            throw new LuksException("LUKS2 metadata: '" + field + "' is missing or not a string");
        }
        return n.asText();
    }

    /** LUKS2 stores 64-bit values as decimal strings. */
    private static long number(ObjectNode parent, String field) throws LuksException {
        return parseNumber(text(parent, field), field);
    }

    private static long parseNumber(String s, String what) throws LuksException {
        try {
            long v = Long.parseLong(s);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new LuksException("LUKS2 metadata: '" + what + "' is not a valid number: " + s);
        }
    }

    private static long integer(ObjectNode parent, String field) throws LuksException {
        JsonNode n = parent.get(field);
        if (n == null || !n.canConvertToInt() || n.asInt() < 0) {
            throw new LuksException("LUKS2 metadata: '" + field + "' is missing or not a small non-negative integer");
        }
        return n.asInt();
    }

    private static byte[] base64(ObjectNode parent, String field) throws LuksException {
        try {
            return Base64.getDecoder().decode(text(parent, field));
        } catch (IllegalArgumentException e) {
            throw new LuksException("LUKS2 metadata: '" + field + "' is not base64");
        }
    }

    private static int parseId(String id) throws LuksException {
        try {
            int v = Integer.parseInt(id);
            if (v < 0 || v > 31) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new LuksException("LUKS2 metadata: invalid id '" + id + "'");
        }
    }
}
