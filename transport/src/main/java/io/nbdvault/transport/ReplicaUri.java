package io.nbdvault.transport;

import io.nbdvault.nbd.protocol.Nbd;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Where a replica lives, from the standard NBD URI forms (nbd://host[:port]/export,
 * nbd+unix:///export?socket=PATH, and nbds:// / nbds+unix:// for the same over TLS) or a file (file:///path or a plain path).
 */
public record ReplicaUri(Kind kind, String host, int port, Path socket, String export, Path file, boolean tls) {
    public enum Kind { FILE, NBD_TCP, NBD_UNIX }

    public static ReplicaUri parse(String text) {
        if (!text.contains("://")) {
            return new ReplicaUri(Kind.FILE, null, 0, null, null, Path.of(text), false);
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("malformed replica URI '" + text + "': " + e.getReason());
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
            case "iscsi" -> throw new IllegalArgumentException("iSCSI replicas are not supported yet: '" + text + "'");
            default -> throw new IllegalArgumentException("unknown replica URI scheme '" + scheme + "' in '" + text + "'");
        }
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
