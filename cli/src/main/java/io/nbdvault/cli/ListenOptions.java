package io.nbdvault.cli;

import io.nbdvault.nbd.protocol.Nbd;
import io.nbdvault.nbd.server.NbdServer;
import io.nbdvault.nbd.server.TlsConfig;
import io.nbdvault.nbd.server.TlsMode;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Where and how a command serves NBD: shared by every command that runs a server. */
public final class ListenOptions {
    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "TCP address to listen on (default 127.0.0.1:" + Nbd.DEFAULT_PORT + " unless --socket is given; "
                    + "serve's embedded default listens on DIR/nbd.sock instead).")
    String listen;

    @Option(names = "--socket", paramLabel = "PATH", description = "Unix socket to listen on (created with mode 0600).")
    Path socket;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain for TLS.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM (PKCS#8) private key for TLS.")
    Path tlsKey;

    @Option(names = "--tls", paramLabel = "MODE",
            description = "off, optional or required (default: required when --tls-cert is given, else off).")
    TlsMode tlsMode;

    /** Adds the listeners and TLS settings to a server builder, checking they make sense together. */
    @Option(names = "--max-in-flight", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Bytes of reads and writes in flight across all clients (default 512M); past it, clients wait.")
    long maxInFlight = 512L << 20;

    public NbdServer.Builder applyTo(NbdServer.Builder builder) {
        builder.maxInFlightBytes(maxInFlight);
        if (listen != null || socket == null) {
            String spec = listen == null ? "127.0.0.1:" + Nbd.DEFAULT_PORT : listen;
            int colon = spec.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("--listen wants HOST:PORT, got '" + spec + "'");
            }
            String host = spec.substring(0, colon).replace("[", "").replace("]", "");
            int port;
            try {
                port = Integer.parseInt(spec.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--listen port is not a number: '" + spec + "'");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--listen port out of range: " + port);
            }
            builder.listenTcp(host.isEmpty() ? "127.0.0.1" : host, port);
        }
        if (socket != null) {
            builder.listenUnix(socket);
        }
        TlsMode mode = tlsMode != null ? tlsMode : (tlsCert != null ? TlsMode.REQUIRED : TlsMode.OFF);
        if (mode != TlsMode.OFF && (tlsCert == null || tlsKey == null)) {
            throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key");
        }
        builder.tls(new TlsConfig(tlsCert, tlsKey, mode));
        return builder;
    }

    /** How a client reaches the server, for the message printed once it is ready. */
    public String describe(NbdServer server, String exportName, boolean tls) {
        StringBuilder out = new StringBuilder();
        String scheme = tls ? "nbds" : "nbd";
        if (server.tcpAddress() != null) {
            var a = server.tcpAddress();
            String host = a.getAddress().getHostAddress();
            if (host.contains(":")) {
                host = "[" + host + "]";
            }
            out.append(scheme).append("://").append(host).append(':').append(a.getPort()).append('/').append(exportName);
        }
        if (server.unixSocket() != null) {
            if (out.length() > 0) {
                out.append("  ");
            }
            out.append(scheme).append("+unix:///").append(exportName).append("?socket=").append(server.unixSocket());
        }
        return out.toString();
    }

    boolean tlsEnabled() {
        return tlsCert != null && tlsMode != TlsMode.OFF;
    }
}
