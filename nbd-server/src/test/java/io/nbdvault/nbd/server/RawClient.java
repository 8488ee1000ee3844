package io.nbdvault.nbd.server;

import io.nbdvault.nbd.protocol.Nbd;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A byte-level NBD client for feeding the server exactly the (bad) bytes a test wants. */
final class RawClient implements AutoCloseable {
    record OptReply(int option, int type, byte[] data) {
    }

    record Reply(int error, long cookie, byte[] data) {
    }

    private final SocketChannel channel;

    RawClient(Path socket) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
    }

    /** Reads the greeting and answers with fixed newstyle + no zeroes. */
    RawClient handshake() throws IOException {
        ByteBuffer greeting = read(18);
        if (greeting.getLong() != Nbd.NBDMAGIC || greeting.getLong() != Nbd.IHAVEOPT) {
            throw new IOException("bad greeting");
        }
        write(ByteBuffer.allocate(4).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES).flip());
        return this;
    }

    void option(int option, byte[] data) throws IOException {
        write(ByteBuffer.allocate(16 + data.length).putLong(Nbd.IHAVEOPT).putInt(option).putInt(data.length)
                .put(data).flip());
    }

    OptReply optReply() throws IOException {
        ByteBuffer h = read(20);
        if (h.getLong() != Nbd.OPTION_REPLY_MAGIC) {
            throw new IOException("bad option reply magic");
        }
        int option = h.getInt();
        int type = h.getInt();
        int length = h.getInt();
        byte[] data = new byte[length];
        read(length).get(data);
        return new OptReply(option, type, data);
    }

    /** OPT_GO for {@code export}; consumes the replies up to the ACK. */
    RawClient go(String export) throws IOException {
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        option(Nbd.OPT_GO, ByteBuffer.allocate(6 + name.length).putInt(name.length).put(name).putShort((short) 0).array());
        OptReply r;
        do {
            r = optReply();
            if (r.type() < 0) {
                throw new IOException("GO failed with " + Integer.toHexString(r.type()));
            }
        } while (r.type() != Nbd.REP_ACK);
        return this;
    }

    void request(int flags, int type, long cookie, long offset, int length, byte[] payload) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
        b.putInt(Nbd.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie).putLong(offset)
                .putInt(length);
        if (payload != null) {
            b.put(payload);
        }
        write(b.flip());
    }

    /** A simple reply; {@code dataLength} bytes follow a successful read. */
    Reply reply(int dataLength) throws IOException {
        ByteBuffer h = read(16);
        if (h.getInt() != Nbd.SIMPLE_REPLY_MAGIC) {
            throw new IOException("bad reply magic");
        }
        int error = h.getInt();
        long cookie = h.getLong();
        byte[] data = new byte[error == 0 ? dataLength : 0];
        if (data.length > 0) {
            read(data.length).get(data);
        }
        return new Reply(error, cookie, data);
    }

    void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) {
                throw new EOFException("server closed the connection");
            }
        }
        return b.flip();
    }

    /** True when the server has closed the connection (reads hit end of stream). */
    boolean closedByServer() {
        try {
            return channel.read(ByteBuffer.allocate(1)) < 0;
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
