package io.nbdvault.cli.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One request to a running server's admin socket. A blocking JDK channel is enough for a command
 * that sends one line and reads one back; Netty serves the other end.
 */
public final class AdminClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminClient() {
    }

    public static JsonNode call(Path socket, JsonNode request) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new IOException("no nbdvault server on " + socket + " (" + e.getMessage() + ")", e);
            }
            ch.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(8192);
            while (true) {
                buf.clear();
                if (ch.read(buf) < 0) {
                    break;
                }
                buf.flip();
                boolean end = false;
                while (buf.hasRemaining()) {
                    byte b = buf.get();
                    if (b == '\n') {
                        end = true;
                        break;
                    }
                    line.write(b);
                }
                if (end) {
                    break;
                }
            }
            JsonNode reply = JSON.readTree(line.toString(StandardCharsets.UTF_8));
            if (!reply.path("ok").asBoolean(false)) {
                throw new IOException(reply.path("error").asText("the server refused the request"));
            }
            return reply;
        }
    }

    public static JsonNode command(Path socket, String command) throws IOException {
        return call(socket, JSON.createObjectNode().put("command", command));
    }
}
