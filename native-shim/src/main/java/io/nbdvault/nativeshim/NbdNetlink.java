package io.nbdvault.nativeshim;

import jnr.ffi.Pointer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel's generic-netlink interface to its NBD client (family "nbd", linux/nbd-netlink.h),, as
 * rbd-nbd and nbd-client use it. Unlike the ioctls, a device configured
 * here belongs to the kernel, not to a process blocked in NBD_DO_IT: when the process that served it
 * dies, the kernel keeps the device (and a mounted filesystem on it) for the dead-connection timeout,
 * queueing I/O, and a new process hands it fresh sockets with RECONFIGURE.
 *
 * <p>Messages are built by hand: nlmsghdr, genlmsghdr, then attributes (type, length, payload padded to
 * 4 bytes), all in host byte order. One request at a time, each acknowledged (NLM_F_ACK).
 */
public final class NbdNetlink implements AutoCloseable {
    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    private static final int NETLINK_GENERIC = 16;

    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_ACK = 4;
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;

    private static final int GENL_ID_CTRL = 0x10;
    private static final int CTRL_CMD_GETFAMILY = 3;
    private static final int CTRL_ATTR_FAMILY_ID = 1;
    private static final int CTRL_ATTR_FAMILY_NAME = 2;
    private static final int CTRL_ATTR_MCAST_GROUPS = 7;
    private static final int CTRL_ATTR_MCAST_GRP_NAME = 1;
    private static final int CTRL_ATTR_MCAST_GRP_ID = 2;
    private static final int SOL_NETLINK = 270;
    private static final int NETLINK_ADD_MEMBERSHIP = 1;
    private static final String NBD_MCAST_GROUP = "nbd_mc_group";

    static final int NBD_CMD_CONNECT = 1;
    static final int NBD_CMD_DISCONNECT = 2;
    static final int NBD_CMD_RECONFIGURE = 3;
    static final int NBD_CMD_LINK_DEAD = 4;
    static final int NBD_CMD_STATUS = 5;

    static final int NBD_ATTR_INDEX = 1;
    static final int NBD_ATTR_SIZE_BYTES = 2;
    static final int NBD_ATTR_BLOCK_SIZE_BYTES = 3;
    static final int NBD_ATTR_TIMEOUT = 4;
    static final int NBD_ATTR_SERVER_FLAGS = 5;
    static final int NBD_ATTR_CLIENT_FLAGS = 6;
    static final int NBD_ATTR_SOCKETS = 7;
    static final int NBD_ATTR_DEAD_CONN_TIMEOUT = 8;
    static final int NBD_ATTR_DEVICE_LIST = 9;
    private static final int NBD_SOCK_ITEM = 1;
    private static final int NBD_SOCK_FD = 1;
    private static final int NBD_DEVICE_ITEM = 1;
    private static final int NBD_DEVICE_INDEX = 1;
    private static final int NBD_DEVICE_CONNECTED = 2;
    private static final int NBD_GENL_VERSION = 1;

    private static final int BUFFER = 1 << 16;
    private static final int ENOBUFS = 105;

    private final int fd;
    private final Pointer buffer;
    private int family;
    private int linkDeadGroup = -1;
    private int sequence;

    private NbdNetlink(int fd) throws IOException {
        this.fd = fd;
        this.buffer = jnr.ffi.Memory.allocateDirect(Native.runtime(), BUFFER);
        resolveFamily();
    }

    /** Opens a generic-netlink socket and looks up the "nbd" family (present once the nbd module is loaded). */
    public static NbdNetlink open() throws IOException {
        int fd = Native.libc().socket(AF_NETLINK, SOCK_RAW | Linux.SOCK_CLOEXEC, NETLINK_GENERIC);
        if (fd < 0) {
            throw Native.failure("socket", "AF_NETLINK", Native.errno());
        }
        try {
            return new NbdNetlink(fd);
        } catch (IOException | RuntimeException e) {
            Native.libc().close(fd);
            throw e;
        }
    }

    /** The device's index: 0 for /dev/nbd0. */
    public static int index(java.nio.file.Path device) throws IOException {
        String name = device.getFileName().toString();
        if (!name.matches("nbd[0-9]+")) {
            throw new IOException(device + " is not an NBD device (/dev/nbdN)");
        }
        return Integer.parseInt(name.substring(3));
    }

    /** Settings for CONNECT and RECONFIGURE; sizes in bytes, timeouts in seconds (0: the kernel's default). */
    public record Config(long sizeBytes, long blockSize, long serverFlags, long timeoutSeconds, long deadConnTimeoutSeconds) {
    }

    /** NBD_CMD_CONNECT: configures device {@code index} with the given connected sockets (after their handshake). */
    public void connect(int index, Config config, int... socketFds) throws IOException {
        request(connectRequest(family, index, config, socketFds), "NBD_CMD_CONNECT nbd" + index);
    }

    /**
     * NBD_CMD_RECONFIGURE: gives a configured device new sockets in place of dead ones (its server
     * process died); requests the kernel held back go out on them.
     */
    public void reconfigure(int index, Config config, int... socketFds) throws IOException {
        request(reconfigureRequest(family, index, config, socketFds), "NBD_CMD_RECONFIGURE nbd" + index);
    }

    static Message connectRequest(int family, int index, Config config, int... socketFds) {
        Message m = new Message(family, NBD_CMD_CONNECT);
        m.u32(NBD_ATTR_INDEX, index);
        m.u64(NBD_ATTR_SIZE_BYTES, config.sizeBytes());
        m.u64(NBD_ATTR_BLOCK_SIZE_BYTES, config.blockSize());
        m.u64(NBD_ATTR_SERVER_FLAGS, config.serverFlags());
        timeouts(m, config);
        m.u64(NBD_ATTR_CLIENT_FLAGS, 0);
        sockets(m, socketFds);
        return m;
    }

    static Message reconfigureRequest(int family, int index, Config config, int... socketFds) {
        Message m = new Message(family, NBD_CMD_RECONFIGURE);
        m.u32(NBD_ATTR_INDEX, index);
        timeouts(m, config);
        sockets(m, socketFds);
        return m;
    }

    private static void timeouts(Message m, Config config) {
        if (config.timeoutSeconds() > 0) {
            m.u64(NBD_ATTR_TIMEOUT, config.timeoutSeconds());
        }
        if (config.deadConnTimeoutSeconds() > 0) {
            m.u64(NBD_ATTR_DEAD_CONN_TIMEOUT, config.deadConnTimeoutSeconds());
        }
    }

    /** NBD_CMD_DISCONNECT: the kernel sends NBD_CMD_DISC, shuts the sockets down and releases the device. */
    public void disconnect(int index) throws IOException {
        Message m = message(NBD_CMD_DISCONNECT);
        m.u32(NBD_ATTR_INDEX, index);
        request(m, "NBD_CMD_DISCONNECT nbd" + index);
    }

    /** NBD_CMD_STATUS: whether device {@code index} is configured (connected, or waiting for a reconnect). */
    public boolean connected(int index) throws IOException {
        Message m = message(NBD_CMD_STATUS);
        m.u32(NBD_ATTR_INDEX, index);
        for (ByteBuffer reply : request(m, "NBD_CMD_STATUS nbd" + index)) {
            ByteBuffer list = attribute(reply, NBD_ATTR_DEVICE_LIST);
            while (list != null && list.remaining() >= 4) {
                ByteBuffer item = next(list);
                ByteBuffer idx = attribute(item, NBD_DEVICE_INDEX);
                ByteBuffer con = attribute(item, NBD_DEVICE_CONNECTED);
                if (idx != null && idx.getInt(idx.position()) == index && con != null) {
                    return con.get(con.position()) != 0;
                }
            }
        }
        return false;
    }

    @Override
    public void close() {
        Native.libc().close(fd);
    }

    static void sockets(Message m, int... fds) {
        int sockets = m.begin(NBD_ATTR_SOCKETS);
        for (int socketFd : fds) {
            int item = m.begin(NBD_SOCK_ITEM);
            m.u32(NBD_SOCK_FD, socketFd);
            m.end(item);
        }
        m.end(sockets);
    }

    private void resolveFamily() throws IOException {
        Message m = new Message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
        m.string(CTRL_ATTR_FAMILY_NAME, "nbd");
        for (ByteBuffer reply : request(m, "resolving the generic-netlink family \"nbd\" (is the nbd module loaded?)")) {
            ByteBuffer id = attribute(reply, CTRL_ATTR_FAMILY_ID);
            if (id != null) {
                family = Short.toUnsignedInt(id.getShort(id.position()));
                ByteBuffer groups = attribute(reply, CTRL_ATTR_MCAST_GROUPS);
                while (groups != null && groups.remaining() >= 4) {
                    ByteBuffer group = next(groups);
                    ByteBuffer name = attribute(group, CTRL_ATTR_MCAST_GRP_NAME);
                    ByteBuffer groupId = attribute(group, CTRL_ATTR_MCAST_GRP_ID);
                    if (name != null && groupId != null && StandardCharsets.US_ASCII.decode(name).toString()
                            .replace("\0", "").equals(NBD_MCAST_GROUP)) {
                        linkDeadGroup = groupId.getInt(groupId.position());
                    }
                }
                return;
            }
        }
        throw new IOException("the kernel did not name the generic-netlink family \"nbd\"");
    }

    /**
     * Subscribes this socket to the kernel's NBD notifications: from then on {@link #awaitLinkDead()}
     * returns each time the kernel gives up on a connection of a device that is still configured (its
     * server died, or a request went unanswered past the timeout). Use a socket of its own for this.
     */
    public NbdNetlink subscribeLinkDead() throws IOException {
        if (linkDeadGroup < 0) {
            throw new IOException("the kernel's nbd netlink family has no " + NBD_MCAST_GROUP + " group");
        }
        Pointer value = jnr.ffi.Memory.allocateDirect(Native.runtime(), 4);
        value.putInt(0, linkDeadGroup);
        if (Native.libc().setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, value, 4) != 0) {
            throw Native.failure("setsockopt(NETLINK_ADD_MEMBERSHIP)", NBD_MCAST_GROUP, Native.errno());
        }
        return this;
    }

    /** Blocks until an NBD_CMD_LINK_DEAD notification arrives; returns the device index it names. */
    public int awaitLinkDead() throws IOException {
        while (true) {
            long n = Native.libc().read(fd, buffer, BUFFER);
            if (n < 0) {
                int errno = Native.errno();
                if (errno == Linux.EINTR || errno == ENOBUFS) {
                    continue; // ENOBUFS: notifications were lost while the socket was full; keep listening
                }
                throw Native.failure("recv", NBD_MCAST_GROUP, errno);
            }
            byte[] in = new byte[(int) n];
            buffer.get(0, in, 0, in.length);
            ByteBuffer all = ByteBuffer.wrap(in).order(ByteOrder.nativeOrder());
            while (all.remaining() >= 20) {
                int start = all.position();
                int length = all.getInt(start);
                if (length < 20 || length > all.remaining()) {
                    break;
                }
                int type = Short.toUnsignedInt(all.getShort(start + 4));
                int command = all.get(start + 16);
                all.position(Math.min(all.limit(), start + align(length)));
                if (type == family && command == NBD_CMD_LINK_DEAD) {
                    ByteBuffer attrs = ByteBuffer.wrap(in, start + 20, length - 20).slice().order(ByteOrder.nativeOrder());
                    ByteBuffer index = attribute(attrs, NBD_ATTR_INDEX);
                    if (index != null) {
                        return index.getInt(index.position());
                    }
                }
            }
        }
    }

    /** Sends one request and reads until its acknowledgement; returns the data replies' attribute areas. */
    private List<ByteBuffer> request(Message m, String what) throws IOException {
        int seq = ++sequence;
        byte[] bytes = m.finish(seq);
        buffer.put(0, bytes, 0, bytes.length);
        long sent = Native.libc().write(fd, buffer, bytes.length);
        if (sent != bytes.length) {
            throw Native.failure("send", what, Native.errno());
        }
        List<ByteBuffer> replies = new ArrayList<>();
        while (true) {
            long n = Native.libc().read(fd, buffer, BUFFER);
            if (n < 0) {
                if (Native.errno() == Linux.EINTR) {
                    continue;
                }
                throw Native.failure("recv", what, Native.errno());
            }
            byte[] in = new byte[(int) n];
            buffer.get(0, in, 0, in.length);
            ByteBuffer all = ByteBuffer.wrap(in).order(ByteOrder.nativeOrder());
            while (all.remaining() >= 16) {
                int start = all.position();
                int length = all.getInt(start);
                int type = Short.toUnsignedInt(all.getShort(start + 4));
                int replySeq = all.getInt(start + 8);
                if (length < 16 || length > all.remaining()) {
                    throw new IOException("malformed netlink reply while " + what);
                }
                ByteBuffer body = all.duplicate().order(ByteOrder.nativeOrder());
                body.position(start + 16).limit(start + length);
                all.position(Math.min(all.limit(), start + align(length)));
                if (replySeq != seq) {
                    continue;
                }
                if (type == NLMSG_ERROR) {
                    int error = body.getInt(body.position());
                    if (error != 0) {
                        throw new ErrnoException(what + " failed: " + Native.libc().strerror(-error)
                                + " (errno " + -error + ")", -error);
                    }
                    return replies;
                }
                if (type == NLMSG_DONE) {
                    return replies;
                }
                body.position(body.position() + 4); // genlmsghdr
                replies.add(body.slice().order(ByteOrder.nativeOrder()));
            }
        }
    }

    /** The payload of the first attribute of {@code type} in an attribute area, or null. */
    static ByteBuffer attribute(ByteBuffer area, int type) {
        ByteBuffer b = area.duplicate().order(ByteOrder.nativeOrder());
        while (b.remaining() >= 4) {
            int length = Short.toUnsignedInt(b.getShort(b.position()));
            int t = Short.toUnsignedInt(b.getShort(b.position() + 2)) & 0x3fff;
            if (length < 4 || length > b.remaining()) {
                return null;
            }
            if (t == type) {
                ByteBuffer payload = b.duplicate().order(ByteOrder.nativeOrder());
                payload.position(b.position() + 4).limit(b.position() + length);
                return payload.slice().order(ByteOrder.nativeOrder());
            }
            b.position(Math.min(b.limit(), b.position() + align(length)));
        }
        return null;
    }

    /** The payload of the next attribute in {@code area} (advancing it). */
    static ByteBuffer next(ByteBuffer area) {
        int length = Short.toUnsignedInt(area.getShort(area.position()));
        if (length < 4 || length > area.remaining()) {
            area.position(area.limit());
            return ByteBuffer.allocate(0);
        }
        ByteBuffer payload = area.duplicate().order(ByteOrder.nativeOrder());
        payload.position(area.position() + 4).limit(area.position() + length);
        area.position(Math.min(area.limit(), area.position() + align(length)));
        return payload.slice().order(ByteOrder.nativeOrder());
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    private Message message(int command) {
        return new Message(family, command);
    }

    /** A generic-netlink request under construction: nlmsghdr, genlmsghdr, attributes. */
    static final class Message {
        private final ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.nativeOrder());
        private final int type;

        Message(int type, int command) {
            this.type = type;
            b.position(16);
            b.put((byte) command).put((byte) NBD_GENL_VERSION).putShort((short) 0);
        }

        void u32(int attr, int value) {
            b.putShort((short) 8).putShort((short) attr).putInt(value);
        }

        void u64(int attr, long value) {
            b.putShort((short) 12).putShort((short) attr).putLong(value);
        }

        void string(int attr, String value) {
            byte[] s = value.getBytes(StandardCharsets.US_ASCII);
            b.putShort((short) (4 + s.length + 1)).putShort((short) attr).put(s).put((byte) 0);
            pad();
        }

        int begin(int attr) {
            int at = b.position();
            b.putShort((short) 0).putShort((short) attr);
            return at;
        }

        void end(int at) {
            b.putShort(at, (short) (b.position() - at));
        }

        private void pad() {
            while ((b.position() & 3) != 0) {
                b.put((byte) 0);
            }
        }

        byte[] finish(int seq) {
            int length = b.position();
            b.putInt(0, length).putShort(4, (short) type).putShort(6, (short) (NLM_F_REQUEST | NLM_F_ACK))
                    .putInt(8, seq).putInt(12, 0);
            byte[] out = new byte[length];
            b.get(0, out, 0, length);
            return out;
        }
    }
}
