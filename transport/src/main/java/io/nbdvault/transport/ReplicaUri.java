package io.nbdvault.transport;

import io.nbdvault.nbd.protocol.Nbd;
import io.nbdvault.transport.iscsi.IscsiTarget;
import io.nbdvault.transport.iscsi.IscsiUri;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Where a replica lives, from the standard NBD URI forms (nbd://host[:port]/export,
 * nbd+unix:///export?socket=PATH, and nbds:// / nbds+unix:// for the same over TLS), libiscsi's
 * iscsi://[user[%password]@]host[:port]/target-iqn/lun, or a file (file:///path or a plain path).
 * {@link #toString()} and {@link #redact(String)} never show a secret.
 */
public record ReplicaUri(Kind kind, String host, int port, Path socket, String export, Path file, boolean tls,
                         IscsiTarget iscsi) {
    public enum Kind { FILE, NBD_TCP, NBD_UNIX, ISCSI }

    public ReplicaUri(Kind kind, String host, int port, Path socket, String export, Path file, boolean tls) {
        this(kind, host, port, socket, export, file, tls, null);
    }

    /** Parses with the process environment (LIBISCSI_CHAP_PASSWORD and LIBISCSI_CHAP_TARGET_PASSWORD). */
    public static ReplicaUri parse(String text) {
        return parse(text, System::getenv);
    }

    public static ReplicaUri parse(String text, java.util.function.Function<String, String> env) {
        if (text.regionMatches(true, 0, "iscsi://", 0, 8)) {
            return new ReplicaUri(Kind.ISCSI, null, 0, null, null, null, false, IscsiUri.parse(text, env));
        }
        if (!text.contains("://")) {
            return new ReplicaUri(Kind.FILE, null, 0, null, null, Path.of(text), false);
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("malformed replica URI '" + redact(text) + "': " + e.getReason());
        }
        String scheme = uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        String export = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? ""
                : URLDecoder.decode(uri.getRawPath().substring(1), StandardCharsets.UTF_8);
        switch (scheme) {
            case "file" -> {
                return new ReplicaUri(Kind.FILE, null, 0, null, null, Path.of(uri.getPath()), false);
            }
            case "nbd", "nbds" -> {
                if (uri.getHost() == null) {
                    throw new IllegalArgumentException(scheme + ":// URI needs a host: '" + text + "'");
                }
                return new ReplicaUri(Kind.NBD_TCP, uri.getHost(), uri.getPort() < 0 ? Nbd.DEFAULT_PORT : uri.getPort(),
                        null, export, null, scheme.equals("nbds"));
            }
            case "nbd+unix", "nbds+unix" -> {
                String socket = queryParameter(uri, "socket");
                if (socket == null) {
                    throw new IllegalArgumentException(scheme + ":// URI needs ?socket=PATH: '" + text + "'");
                }
                return new ReplicaUri(Kind.NBD_UNIX, null, 0, Path.of(socket), export, null, scheme.equals("nbds+unix"));
            }
            default -> throw new IllegalArgumentException("unknown replica URI scheme '" + scheme + "' in '" + redact(text) + "'");
        }
    }

    /** The URI as given, with any password (user%secret@, user:secret@, *password=secret) shown as ***. */
    public static String redact(String text) {
        return IscsiUri.redact(text);
    }

    @Override
    public String toString() {
        return switch (kind) {
            case FILE -> file.toString();
            case ISCSI -> iscsi.toString();
            case NBD_TCP -> (tls ? "nbds://" : "nbd://") + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port
                    + "/" + export;
            case NBD_UNIX -> (tls ? "nbds+unix:///" : "nbd+unix:///") + export + "?socket=" + socket;
        };
    }

    private static String queryParameter(URI uri, String name) {
        String query = uri.getRawQuery();
        if (query == null) {
            return null;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(name)) {
                return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }
}
