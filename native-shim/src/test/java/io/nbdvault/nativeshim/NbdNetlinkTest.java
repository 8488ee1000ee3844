package io.nbdvault.nativeshim;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The nbd netlink requests as bytes (linux/nbd-netlink.h's layout), without a kernel. */
class NbdNetlinkTest {
    private static final NbdNetlink.Config CONFIG = new NbdNetlink.Config(48L << 20, 4096, 0x10d, 30, 120);

    @Test
    void connectCarriesTheDeviceTheSizesTheTimeoutsAndNestedSockets() {
        ByteBuffer b = ByteBuffer.wrap(NbdNetlink.connectRequest(0x1a, 3, CONFIG, 7, 9).finish(42))
                .order(ByteOrder.nativeOrder());
        assertEquals(b.limit(), b.getInt(0), "nlmsg_len");
        assertEquals(0x1a, b.getShort(4), "the family's id is the message type");
        assertEquals(1 | 4, b.getShort(6), "NLM_F_REQUEST | NLM_F_ACK");
        assertEquals(42, b.getInt(8), "sequence");
        assertEquals(NbdNetlink.NBD_CMD_CONNECT, b.get(16));
        assertEquals(1, b.get(17), "genl version");
        ByteBuffer attrs = b.position(20).slice().order(ByteOrder.nativeOrder());
        assertEquals(3, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_INDEX).getInt(0));
        assertEquals(48L << 20, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_SIZE_BYTES).getLong(0));
        assertEquals(4096, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_BLOCK_SIZE_BYTES).getLong(0));
        assertEquals(0x10d, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_SERVER_FLAGS).getLong(0));
        assertEquals(30, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_TIMEOUT).getLong(0));
        assertEquals(120, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_DEAD_CONN_TIMEOUT).getLong(0));
        ByteBuffer sockets = NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_SOCKETS);
        ByteBuffer first = NbdNetlink.next(sockets);
        ByteBuffer second = NbdNetlink.next(sockets);
        assertEquals(7, NbdNetlink.attribute(first, 1).getInt(0), "NBD_SOCK_ITEM { NBD_SOCK_FD }");
        assertEquals(9, NbdNetlink.attribute(second, 1).getInt(0));
        assertEquals(0, sockets.remaining());
    }

    @Test
    void reconfigureNamesTheDeviceAndTheNewSocketsButNotTheSize() {
        ByteBuffer b = ByteBuffer.wrap(NbdNetlink.reconfigureRequest(0x1a, 0, CONFIG, 5).finish(1))
                .order(ByteOrder.nativeOrder());
        assertEquals(NbdNetlink.NBD_CMD_RECONFIGURE, b.get(16));
        ByteBuffer attrs = b.position(20).slice().order(ByteOrder.nativeOrder());
        assertEquals(0, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_INDEX).getInt(0));
        assertNull(NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_SIZE_BYTES));
        assertEquals(120, NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_DEAD_CONN_TIMEOUT).getLong(0));
        ByteBuffer item = NbdNetlink.next(NbdNetlink.attribute(attrs, NbdNetlink.NBD_ATTR_SOCKETS));
        assertEquals(5, NbdNetlink.attribute(item, 1).getInt(0));
    }

    @Test
    void deviceIndexFromItsPath() throws Exception {
        assertEquals(0, NbdNetlink.index(Path.of("/dev/nbd0")));
        assertEquals(15, NbdNetlink.index(Path.of("/dev/nbd15")));
        assertThrows(java.io.IOException.class, () -> NbdNetlink.index(Path.of("/dev/sda")));
    }
}
