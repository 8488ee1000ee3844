package io.nbdvault.transport.iscsi;

/** The SCSI command descriptor blocks this initiator sends (SBC-3, SPC-4), 16 bytes each. */
final class Cdb {
    static final int TEST_UNIT_READY = 0x00;
    static final int INQUIRY = 0x12;
    static final int UNMAP = 0x42;
    static final int READ_16 = 0x88;
    static final int WRITE_16 = 0x8a;
    static final int SYNCHRONIZE_CACHE_16 = 0x91;
    static final int WRITE_SAME_16 = 0x93;
    static final int SERVICE_ACTION_IN_16 = 0x9e;
    static final int READ_CAPACITY_16 = 0x10;

    private Cdb() {
    }

    private static void put64(byte[] c, int at, long v) {
        for (int i = 0; i < 8; i++) {
            c[at + i] = (byte) (v >>> (56 - 8 * i));
        }
    }

    private static void put32(byte[] c, int at, long v) {
        for (int i = 0; i < 4; i++) {
            c[at + i] = (byte) (v >>> (24 - 8 * i));
        }
    }

    static byte[] inquiry(int page, int allocation) {
        byte[] c = new byte[16];
        c[0] = INQUIRY;
        if (page >= 0) {
            c[1] = 1;
            c[2] = (byte) page;
        }
        c[3] = (byte) (allocation >>> 8);
        c[4] = (byte) allocation;
        return c;
    }

    static byte[] readCapacity16() {
        byte[] c = new byte[16];
        c[0] = (byte) SERVICE_ACTION_IN_16;
        c[1] = READ_CAPACITY_16;
        put32(c, 10, 32);
        return c;
    }

    static byte[] read16(long lba, int blocks, boolean fua) {
        return rw(READ_16, lba, blocks, fua);
    }

    static byte[] write16(long lba, int blocks, boolean fua) {
        return rw(WRITE_16, lba, blocks, fua);
    }

    private static byte[] rw(int op, long lba, int blocks, boolean fua) {
        byte[] c = new byte[16];
        c[0] = (byte) op;
        c[1] = (byte) (fua ? 0x08 : 0);
        put64(c, 2, lba);
        put32(c, 10, blocks);
        return c;
    }

    static byte[] synchronizeCache16() {
        byte[] c = new byte[16];
        c[0] = (byte) SYNCHRONIZE_CACHE_16;
        return c;
    }

    static byte[] writeSame16(long lba, int blocks, boolean unmap) {
        byte[] c = new byte[16];
        c[0] = (byte) WRITE_SAME_16;
        c[1] = (byte) (unmap ? 0x08 : 0);
        put64(c, 2, lba);
        put32(c, 10, blocks);
        return c;
    }

    /** UNMAP with one block descriptor; the parameter list goes as data. */
    static byte[] unmap(int parameterLength) {
        byte[] c = new byte[16];
        c[0] = UNMAP;
        c[7] = (byte) (parameterLength >>> 8);
        c[8] = (byte) parameterLength;
        return java.util.Arrays.copyOf(c, 16);
    }

    static byte[] unmapParameters(long lba, int blocks) {
        byte[] p = new byte[24];
        p[1] = 22; // UNMAP data length (bytes after this field)
        p[3] = 16; // block descriptor data length
        put64(p, 8, lba);
        put32(p, 16, blocks);
        return p;
    }
}
