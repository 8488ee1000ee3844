package io.nbdvault.nativeshim;

/** Linux x86_64/aarch64 constants; NativeConstantsTest checks each one against the system headers. */
public final class Linux {
    private Linux() {
    }

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_DIRECT = 0x4000;

    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;

    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    public static final int EINTR = 4;
    public static final int EBUSY = 16;
    public static final int ENXIO = 6;
    public static final int EPERM = 1;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int EOPNOTSUPP = 95;

    public static final long BLKGETSIZE64 = 0x80081272L;
    public static final long BLKDISCARD = 0x1277L;
    public static final long BLKFLSBUF = 0x1261L;

    public static final int MADV_DONTDUMP = 16;
    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;
    public static final int RLIMIT_MEMLOCK = 8;

    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = 0x80000;

    public static final long NBD_SET_SOCK = 0xab00L;
    public static final long NBD_SET_BLKSIZE = 0xab01L;
    public static final long NBD_SET_SIZE = 0xab02L;
    public static final long NBD_DO_IT = 0xab03L;
    public static final long NBD_CLEAR_SOCK = 0xab04L;
    public static final long NBD_CLEAR_QUE = 0xab05L;
    public static final long NBD_SET_SIZE_BLOCKS = 0xab07L;
    public static final long NBD_DISCONNECT = 0xab08L;
    public static final long NBD_SET_TIMEOUT = 0xab09L;
    public static final long NBD_SET_FLAGS = 0xab0aL;

    public static final int NBD_FLAG_HAS_FLAGS = 1;
    public static final int NBD_FLAG_READ_ONLY = 1 << 1;
    public static final int NBD_FLAG_SEND_FLUSH = 1 << 2;
    public static final int NBD_FLAG_SEND_FUA = 1 << 3;
    public static final int NBD_FLAG_SEND_TRIM = 1 << 5;
    public static final int NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
}
