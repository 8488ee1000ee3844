package io.nbdvault.transport.iscsi;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A scripted, misbehaving iSCSI target on 127.0.0.1: it either never answers the login, or logs in
 * properly (no auth, default parameters) and then answers the first SCSI command with whatever
 * {@link Reply} builds — a bad length, an unknown opcode, a wrong task tag.
 */
final class FakeTarget implements AutoCloseable {
    interface Reply {
        /** The bytes sent back for a SCSI Command PDU whose header is {@code command}. */
        byte[] to(ByteBuffer command);
    }

    private final ServerSocket server;
    private final Thread thread;
    private final List<Socket> sockets = new ArrayList<>();

    private FakeTarget(Reply reply) throws IOException {
        this(reply, null);
    }

    private FakeTarget(Reply reply, byte[] greeting) throws IOException {
        server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        thread = new Thread(() -> serve(reply, greeting), "fake-iscsi-target");
        thread.setDaemon(true);
        thread.start();
    }

    /** Accepts connections and never says a word. */
    static FakeTarget silent() throws IOException {
        return new FakeTarget(null);
    }

    /** Accepts connections and sends each one {@code greeting} at once, unasked, then nothing. */
    static FakeTarget greeting(byte[] greeting) throws IOException {
        return new FakeTarget(null, greeting);
    }

    static FakeTarget answering(Reply reply) throws IOException {
        return new FakeTarget(reply);
    }

    String uri() {
        return "iscsi://127.0.0.1:" + server.getLocalPort() + "/iqn.2024-01.test:fake/1";
    }

    private void serve(Reply reply, byte[] greeting) {
        try {
            while (!server.isClosed()) {
                Socket s = server.accept();
                synchronized (sockets) {
                    sockets.add(s);
                }
                if (greeting != null) {
                    s.getOutputStream().write(greeting);
                } else if (reply != null) {
                    Thread t = new Thread(() -> session(s, reply));
                    t.setDaemon(true);
                    t.start();
                }
            }
        } catch (IOException closed) {
            // closed by the test
        }
    }

    private static void session(Socket s, Reply reply) {
        try (s) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            int statSn = 1;
            while (true) {
                byte[] bhs = new byte[48];
                in.readFully(bhs);
                ByteBuffer h = ByteBuffer.wrap(bhs);
                int length = h.getInt(4) & 0xffffff;
                in.readFully(new byte[(length + 3) & ~3]);
                int opcode = bhs[0] & 0x3f;
                if (opcode == Pdu.LOGIN_REQUEST) {
                    int csg = (bhs[1] >> 2) & 3;
                    int nsg = bhs[1] & 3;
                    byte[] text = csg == 1 ? "HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=8192\0"
                            .getBytes(StandardCharsets.UTF_8) : new byte[0];
                    ByteBuffer r = ByteBuffer.allocate(48 + ((text.length + 3) & ~3));
                    r.put(0, (byte) Pdu.LOGIN_RESPONSE).put(1, (byte) (0x80 | csg << 2 | nsg));
                    r.putInt(4, text.length);
                    r.put(8, bhs, 8, 8); // ISID, TSIH
                    r.putShort(14, (short) 1);
                    r.putInt(16, h.getInt(16));
                    r.putInt(24, statSn++);
                    r.putInt(28, h.getInt(24));
                    r.putInt(32, h.getInt(24) + 16);
                    r.put(48, text);
                    out.write(r.array());
                } else if (opcode == Pdu.SCSI_COMMAND) {
                    out.write(reply.to(h));
                }
                out.flush();
            }
        } catch (IOException e) {
            // the initiator hung up: that is what the tests want
        }
    }

    /** A target PDU header for the command: opcode, flags, data segment length, the command's task tag. */
    static ByteBuffer header(ByteBuffer command, int opcode, int flags, int dataLength) {
        ByteBuffer r = ByteBuffer.allocate(48);
        r.put(0, (byte) opcode).put(1, (byte) flags);
        r.putInt(4, dataLength & 0xffffff);
        r.putInt(16, command.getInt(16));
        r.putInt(24, 2);
        r.putInt(28, command.getInt(24) + 1);
        r.putInt(32, command.getInt(24) + 16);
        return r;
    }

    /** Closes the connections accepted so far; new ones are still accepted. */
    void hangUp() throws IOException {
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
            sockets.clear();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
