package io.nbdvault.crypto.luks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nbdvault.core.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One LUKS2 header copy: the 4096-byte binary header followed by the JSON metadata area, checked
 * with SHA-256 over both. Two copies live at the start of the volume; the one with the higher
 * sequence id wins, so a torn write of either never loses the volume.
 */
final class Luks2Header {
    static final byte[] MAGIC_PRIMARY = {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe};
    static final byte[] MAGIC_SECONDARY = {'S', 'K', 'U', 'L', (byte) 0xba, (byte) 0xbe};
    static final int BINARY_SIZE = 4096;
    /** Where a secondary header may start, as cryptsetup searches when the primary is unusable. */
    static final long[] SECONDARY_OFFSETS = {0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000,
            0x200000, 0x400000};
    private static final ObjectMapper JSON = new ObjectMapper();

    final long hdrSize;
    final long seqid;
    final String label;
    final String uuid;
    final byte[] salt;
    final ObjectNode json;

    Luks2Header(long hdrSize, long seqid, String label, String uuid, byte[] salt, ObjectNode json) {
        this.hdrSize = hdrSize;
        this.seqid = seqid;
        this.label = label;
        this.uuid = uuid;
        this.salt = salt;
        this.json = json;
    }

    Luks2Header withJson(ObjectNode newJson, long newSeqid) {
        return new Luks2Header(hdrSize, newSeqid, label, uuid, salt, newJson);
    }

    /** Reads both copies and returns the valid one with the higher sequence id. */
    static Luks2Header read(BlockDevice device) throws IOException {
        List<String> problems = new ArrayList<>();
        Luks2Header primary = tryRead(device, 0, MAGIC_PRIMARY, problems);
        Luks2Header secondary = null;
        if (primary != null) {
            secondary = tryRead(device, primary.hdrSize, MAGIC_SECONDARY, problems);
        } else {
            for (long offset : SECONDARY_OFFSETS) {
                if (offset + BINARY_SIZE > device.size()) {
                    break;
                }
                byte[] magic = DeviceIo.read(device, offset, 6);
                if (Arrays.equals(magic, MAGIC_SECONDARY)) {
                    secondary = tryRead(device, offset, MAGIC_SECONDARY, problems);
                    break;
                }
            }
        }
        if (primary == null && secondary == null) {
            throw new LuksException("no valid LUKS header (no LUKS1 header, and no valid LUKS2 header: "
                    + String.join("; ", problems) + ")");
        }
        if (primary == null) {
            return secondary;
        }
        if (secondary == null) {
            return primary;
        }
        return secondary.seqid > primary.seqid ? secondary : primary;
    }

    /** Null (with the reason added to {@code problems}) when the copy at {@code offset} is unusable. */
    private static Luks2Header tryRead(BlockDevice device, long offset, byte[] magic, List<String> problems)
            throws IOException {
        String which = offset == 0 ? "primary header" : "secondary header at " + offset;
        if (offset + BINARY_SIZE > device.size()) {
            problems.add(which + ": device too small");
            return null;
        }
        ByteBuffer bin = ByteBuffer.wrap(DeviceIo.read(device, offset, BINARY_SIZE));
        byte[] m = new byte[6];
        bin.get(0, m);
        if (!Arrays.equals(m, magic)) {
            problems.add(which + ": bad magic");
            return null;
        }
        if (bin.getShort(6) != 2) {
            problems.add(which + ": version " + bin.getShort(6) + " is not LUKS2");
            return null;
        }
        long hdrSize = bin.getLong(8);
        if (hdrSize < 0x4000 || hdrSize > 0x400000 || Long.bitCount(hdrSize) != 1) {
            problems.add(which + ": invalid header size " + hdrSize);
            return null;
        }
        long hdrOffset = bin.getLong(256);
        if (hdrOffset != offset) {
            problems.add(which + ": records offset " + hdrOffset);
            return null;
        }
        String checksumAlg = cString(bin, 72, 32);
        if (!checksumAlg.equals("sha256")) {
            problems.add(which + ": unsupported checksum " + checksumAlg);
            return null;
        }
        if (offset + hdrSize > device.size()) {
            problems.add(which + ": truncated");
            return null;
        }
        byte[] whole = DeviceIo.read(device, offset, (int) hdrSize);
        byte[] stored = Arrays.copyOfRange(whole, 448, 448 + 32);
        Arrays.fill(whole, 448, 448 + 64, (byte) 0);
        if (!MessageDigest.isEqual(stored, sha256(whole))) {
            problems.add(which + ": checksum mismatch");
            return null;
        }
        int jsonEnd = BINARY_SIZE;
        while (jsonEnd < whole.length && whole[jsonEnd] != 0) {
            jsonEnd++;
        }
        JsonNode json;
        try {
            json = JSON.readTree(new String(whole, BINARY_SIZE, jsonEnd - BINARY_SIZE, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            problems.add(which + ": JSON metadata does not parse");
            return null;
        }
        if (!(json instanceof ObjectNode object)) {
            problems.add(which + ": JSON metadata is not an object");
            return null;
        }
        return new Luks2Header(hdrSize, bin.getLong(16), cString(bin, 24, 48), cString(bin, 168, 40),
                Arrays.copyOfRange(bin.array(), 104, 168), object);
    }

    /** Writes both copies (primary first); each is complete and checksummed on its own. */
    void write(BlockDevice device) throws IOException {
        DeviceIo.write(device, 0, encode(0, MAGIC_PRIMARY));
        DeviceIo.write(device, hdrSize, encode(hdrSize, MAGIC_SECONDARY));
    }

    byte[] encode(long offset, byte[] magic) throws LuksException {
        byte[] jsonBytes;
        try {
            jsonBytes = JSON.writeValueAsBytes(json);
        } catch (JsonProcessingException e) {
            throw new LuksException("cannot encode LUKS2 metadata", e);
        }
        if (jsonBytes.length >= hdrSize - BINARY_SIZE) {
            throw new LuksException("LUKS2 metadata does not fit the " + (hdrSize - BINARY_SIZE) + "-byte JSON area");
        }
        ByteBuffer out = ByteBuffer.allocate((int) hdrSize);
        out.put(magic).putShort((short) 2).putLong(hdrSize).putLong(seqid);
        putCString(out, 24, label, 48);
        putCString(out, 72, "sha256", 32);
        out.put(104, salt);
        putCString(out, 168, uuid, 40);
        out.putLong(256, offset);
        out.put(BINARY_SIZE, jsonBytes);
        byte[] whole = out.array();
        System.arraycopy(sha256(whole), 0, whole, 448, 32);
        return whole;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String cString(ByteBuffer b, int offset, int max) {
        int end = offset;
        while (end < offset + max && b.get(end) != 0) {
            end++;
        }
        return new String(b.array(), offset, end - offset, StandardCharsets.UTF_8);
    }

    private static void putCString(ByteBuffer b, int offset, String s, int max) throws LuksException {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= max) {
            throw new LuksException("'" + s + "' is longer than " + (max - 1) + " bytes");
        }
        b.put(offset, bytes);
    }
}
