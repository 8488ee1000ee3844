package io.nbdvault.nbd.server;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;

import java.io.IOException;
import java.nio.file.Path;

/** An in-process server on a unix socket (and a TCP port) in a test's temporary directory. */
final class TestServer implements AutoCloseable {
    final NbdServer server;
    final Path socket;

    private TestServer(NbdServer server, Path socket) {
        this.server = server;
        this.socket = socket;
    }

    static TestServer memory(Path dir, long size) throws IOException {
        return start(dir, NbdServer.builder().export(new NbdExport("disk", "test disk", new MemoryDevice(size), false)));
    }

    static TestServer start(Path dir, NbdServer.Builder builder) throws IOException {
        Path socket = dir.resolve("nbd.sock");
        return new TestServer(builder.listenUnix(socket).listenTcp("127.0.0.1", 0).start(), socket);
    }

    static NbdServer.Builder with(BlockDevice device, boolean readOnly) {
        return NbdServer.builder().export(new NbdExport("disk", "test disk", device, readOnly));
    }

    String unixUri(String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    String tcpUri(String export) {
        return "nbd://127.0.0.1:" + server.tcpAddress().getPort() + "/" + export;
    }

    int port() {
        return server.tcpAddress().getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
