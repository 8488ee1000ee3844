package io.nbdvault.transport.iscsi;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * libiscsi's URL form, {@code iscsi://[user[%password]@]host[:port]/target-iqn/lun}, with its
 * query parameters {@code target_user}, {@code target_password} (mutual CHAP) and
 * {@code header_digest} (none, crc32c, crc32c-none, none-crc32c); {@code data_digest} takes the
 * same values. A user without a password takes it from LIBISCSI_CHAP_PASSWORD, as libiscsi does;
 * a target user without one from LIBISCSI_CHAP_TARGET_PASSWORD. Error messages never repeat a secret.
 */
public final class IscsiUri {
    private static final Pattern USERINFO_SECRET = Pattern.compile("(://[^/@?#%:]*)[%:][^/?#]*@");
    private static final Pattern QUERY_SECRET = Pattern.compile("((?:password|secret)=)[^&#]*", Pattern.CASE_INSENSITIVE);

    private IscsiUri() {
    }

    public static IscsiTarget parse(String text, Function<String, String> env) {
        String shown = redact(text);
        String rest = text.substring("iscsi://".length());
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        int slash = rest.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("iscsi:// URI needs /target-iqn/lun: '" + shown + "'");
        }
        String authority = rest.substring(0, slash);
        String path = rest.substring(slash + 1);
        String user = null;
        String password = null;
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String info = authority.substring(0, at);
            authority = authority.substring(at + 1);
            int pct = info.indexOf('%');
            user = pct >= 0 ? info.substring(0, pct) : info;
            password = pct >= 0 ? info.substring(pct + 1) : null;
            if (user.isEmpty()) {
                throw new IllegalArgumentException("iscsi:// URI has an empty user name: '" + shown + "'");
            }
        }
        String host;
        int port = IscsiTarget.DEFAULT_PORT;
        if (authority.startsWith("[")) {
            int end = authority.indexOf(']');
            if (end < 0) {
                throw new IllegalArgumentException("malformed IPv6 address in '" + shown + "'");
            }
            host = authority.substring(1, end);
            authority = authority.substring(end + 1);
            if (authority.startsWith(":")) {
                port = port(authority.substring(1), shown);
            } else if (!authority.isEmpty()) {
                throw new IllegalArgumentException("malformed iscsi:// address in '" + shown + "'");
            }
        } else {
            int colon = authority.lastIndexOf(':');
            host = colon >= 0 ? authority.substring(0, colon) : authority;
            if (colon >= 0) {
                port = port(authority.substring(colon + 1), shown);
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("iscsi:// URI needs a host: '" + shown + "'");
        }
        int lunSlash = path.lastIndexOf('/');
        if (lunSlash <= 0) {
            throw new IllegalArgumentException("iscsi:// URI needs /target-iqn/lun: '" + shown + "'");
        }
        String iqn = URLDecoder.decode(path.substring(0, lunSlash), StandardCharsets.UTF_8);
        int lun;
        try {
            lun = Integer.parseInt(path.substring(lunSlash + 1));
            if (lun < 0 || lun > 16383) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("iscsi:// URI has a bad LUN '" + path.substring(lunSlash + 1)
                    + "' (0 to 16383): '" + shown + "'");
        }
        String targetUser = null;
        String targetPassword = null;
        String headerDigest = "None";
        String dataDigest = "None";
        if (query != null) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String key = eq < 0 ? pair : pair.substring(0, eq);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                switch (key) {
                    case "target_user" -> targetUser = value;
                    case "target_password" -> targetPassword = value;
                    case "header_digest" -> headerDigest = digest(value, shown);
                    case "data_digest" -> dataDigest = digest(value, shown);
                    case "" -> { }
                    default -> throw new IllegalArgumentException("unknown iscsi:// parameter '" + key + "' in '" + shown + "'");
                }
            }
        }
        if (user != null && password == null) {
            password = env.apply("LIBISCSI_CHAP_PASSWORD");
        }
        if (targetUser != null && targetPassword == null) {
            targetPassword = env.apply("LIBISCSI_CHAP_TARGET_PASSWORD");
        }
        if (targetUser != null && user == null) {
            throw new IllegalArgumentException("mutual CHAP (target_user) needs a user too: '" + shown + "'");
        }
        return new IscsiTarget(host, port, iqn, lun, user, bytes(password), targetUser, bytes(targetPassword),
                headerDigest, dataDigest, IscsiTarget.DEFAULT_INITIATOR);
    }

    private static byte[] bytes(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    private static int port(String text, String shown) {
        try {
            int p = Integer.parseInt(text);
            if (p <= 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port '" + text + "' in '" + shown + "'");
        }
    }

    private static String digest(String value, String shown) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "none" -> "None";
            case "crc32c" -> "CRC32C";
            case "crc32c-none", "crc32c,none" -> "CRC32C,None";
            case "none-crc32c", "none,crc32c" -> "None,CRC32C";
            default -> throw new IllegalArgumentException("digest must be none, crc32c, crc32c-none or none-crc32c, not '"
                    + value + "', in '" + shown + "'");
        };
    }

    /** The URI with every secret replaced by ***: user%secret@ and user:secret@ become user:***@. */
    public static String redact(String text) {
        if (text == null) {
            return null;
        }
        String s = USERINFO_SECRET.matcher(text).replaceAll("$1:***@");
        return QUERY_SECRET.matcher(s).replaceAll("$1***");
    }
}
