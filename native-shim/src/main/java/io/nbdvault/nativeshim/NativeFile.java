package io.nbdvault.nativeshim;

import jnr.ffi.Pointer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file descriptor of our own on a file or block device, for the allocation calls the JDK lacks:
 * hole punching, SEEK_DATA/SEEK_HOLE, and the block-device ioctls.
 */
public final class NativeFile implements AutoCloseable {
    private final Path path;
    private final int fd;
    private volatile boolean closed;

    private NativeFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    public static NativeFile open(Path path, boolean readOnly, boolean direct) throws IOException {
        int flags = (readOnly ? Linux.O_RDONLY : Linux.O_RDWR) | Linux.O_CLOEXEC | (direct ? Linux.O_DIRECT : 0);
        int fd = Native.libc().open(path.toString(), flags, 0);
        if (fd < 0) {
            throw Native.failure("open", path, Native.errno());
        }
        return new NativeFile(path, fd);
    }

    public int fd() {
        return fd;
    }

    /**
     * Deallocates {@code [offset, offset+length)} keeping the file size; reads of it return zeroes.
     * Returns false when the file system cannot punch holes.
     */
    public boolean punchHole(long offset, long length) throws IOException {
        int rc = Native.libc().fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE, offset, length);
        if (rc == 0) {
            return true;
        }
        int errno = Native.errno();
        if (errno == Linux.EOPNOTSUPP || errno == Linux.ENOTTY || errno == Linux.EINVAL) {
            return false;
        }
        throw Native.failure("fallocate(PUNCH_HOLE)", path, errno);
    }

    /** lseek(SEEK_DATA): next data at or after offset; {@code end} when none; -1 when unsupported. */
    public long seekData(long offset, long end) throws IOException {
        return seek(offset, end, Linux.SEEK_DATA);
    }

    /** lseek(SEEK_HOLE): next hole at or after offset (the end of file counts as one); -1 when unsupported. */
    public long seekHole(long offset, long end) throws IOException {
        return seek(offset, end, Linux.SEEK_HOLE);
    }

    private long seek(long offset, long end, int whence) throws IOException {
        long pos = Native.libc().lseek(fd, offset, whence);
        if (pos >= 0) {
            return Math.min(pos, end);
        }
        int errno = Native.errno();
        if (errno == Linux.ENXIO) {
            return end;
        }
        if (errno == Linux.EINVAL || errno == Linux.EOPNOTSUPP) {
            return -1;
        }
        throw Native.failure("lseek", path, errno);
    }

    /** Size in bytes of a block device (BLKGETSIZE64). */
    public long blockDeviceSize() throws IOException {
        Pointer out = jnr.ffi.Memory.allocateDirect(Native.runtime(), 8);
        if (Native.libc().ioctl(fd, Linux.BLKGETSIZE64, out) != 0) {
            throw Native.failure("ioctl(BLKGETSIZE64)", path, Native.errno());
        }
        return out.getLong(0);
    }

    /** Discards a range of a block device (BLKDISCARD); reads of it afterwards are unspecified. */
    public void discard(long offset, long length) throws IOException {
        Pointer range = jnr.ffi.Memory.allocateDirect(Native.runtime(), 16);
        range.putLong(0, offset);
        range.putLong(8, length);
        if (Native.libc().ioctl(fd, Linux.BLKDISCARD, range) != 0) {
            throw Native.failure("ioctl(BLKDISCARD)", path, Native.errno());
        }
    }

    /** Flushes a block device's buffer cache (BLKFLSBUF). */
    public void flushBuffers() throws IOException {
        if (Native.libc().ioctl(fd, Linux.BLKFLSBUF, 0L) != 0) {
            throw Native.failure("ioctl(BLKFLSBUF)", path, Native.errno());
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Native.libc().close(fd);
        }
    }
}
