package io.nbdvault.transport.iscsi;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The key=value text of Login and Text PDUs (RFC 7143 §6.1): UTF-8 pairs, each ended by a NUL byte.
 * Keys are at most 63 bytes; a pair without '=' or a repeated key is a protocol error.
 */
public final class TextParameters {
    static final int MAX_KEY = 63;

    private TextParameters() {
    }

    /** Parses a whole data segment (the last pair may miss its NUL when a target is lax). */
    public static Map<String, String> parse(byte[] text) {
        Map<String, String> out = new LinkedHashMap<>();
        int start = 0;
        while (start < text.length) {
            int end = start;
            while (end < text.length && text[end] != 0) {
                end++;
            }
            if (end > start) {
                String pair = new String(text, start, end - start, StandardCharsets.UTF_8);
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("malformed iSCSI text pair (no key=value): '" + printable(pair) + "'");
                }
                String key = pair.substring(0, eq);
                if (key.length() > MAX_KEY) {
                    throw new IllegalArgumentException("iSCSI text key longer than " + MAX_KEY + " bytes");
                }
                if (out.put(key, pair.substring(eq + 1)) != null) {
                    throw new IllegalArgumentException("iSCSI text key '" + printable(key) + "' sent twice");
                }
            }
            start = end + 1;
        }
        return out;
    }

    /** Encodes pairs in order, each followed by NUL. */
    public static byte[] encode(Map<String, String> pairs) {
        StringBuilder b = new StringBuilder();
        pairs.forEach((k, v) -> {
            if (k.isEmpty() || k.indexOf('=') >= 0 || k.indexOf('\0') >= 0 || v.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("cannot encode iSCSI text key '" + printable(k) + "'");
            }
            b.append(k).append('=').append(v).append('\0');
        });
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 80; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }
}
