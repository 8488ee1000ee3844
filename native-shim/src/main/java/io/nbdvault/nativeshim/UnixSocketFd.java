package io.nbdvault.nativeshim;

import jnr.ffi.Pointer;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A connected unix stream socket as a raw file descriptor, with blocking reads and writes. The
 * kernel's NBD driver takes a socket by descriptor (NBD_SET_SOCK), which a JDK channel cannot hand over.
 */
public final class UnixSocketFd implements AutoCloseable {
    private static final int SUN_PATH = 108;
    private final int fd;
    private boolean closed;

    private UnixSocketFd(int fd) {
        this.fd = fd;
    }

    public static UnixSocketFd connect(Path socket) throws IOException {
        byte[] path = socket.toString().getBytes(StandardCharsets.UTF_8);
        if (path.length >= SUN_PATH) {
            throw new IOException("socket path too long for a unix socket: " + socket);
        }
        int fd = Native.libc().socket(Linux.AF_UNIX, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw Native.failure("socket", "AF_UNIX", Native.errno());
        }
        Pointer address = jnr.ffi.Memory.allocateDirect(Native.runtime(), 2 + SUN_PATH, true);
        address.putShort(0, (short) Linux.AF_UNIX);
        address.put(2, path, 0, path.length);
        if (Native.libc().connect(fd, address, 2 + path.length + 1) != 0) {
            int errno = Native.errno();
            Native.libc().close(fd);
            throw Native.failure("connect", socket, errno);
        }
        return new UnixSocketFd(fd);
    }

    public int fd() {
        return fd;
    }

    public void writeFully(ByteBuffer data) throws IOException {
        int length = data.remaining();
        byte[] bytes = new byte[length];
        data.duplicate().get(bytes);
        Pointer p = jnr.ffi.Memory.allocateDirect(Native.runtime(), Math.max(1, length));
        p.put(0, bytes, 0, length);
        long done = 0;
        while (done < length) {
            long n = Native.libc().write(fd, p.slice(done), length - done);
            if (n < 0) {
                int errno = Native.errno();
                if (errno == Linux.EINTR) {
                    continue;
                }
                throw Native.failure("write", "socket", errno);
            }
            done += n;
        }
    }

    public ByteBuffer readFully(int length) throws IOException {
        Pointer p = jnr.ffi.Memory.allocateDirect(Native.runtime(), Math.max(1, length));
        long done = 0;
        while (done < length) {
            long n = Native.libc().read(fd, p.slice(done), length - done);
            if (n == 0) {
                throw new EOFException("server closed the socket during the handshake");
            }
            if (n < 0) {
                int errno = Native.errno();
                if (errno == Linux.EINTR) {
                    continue;
                }
                throw Native.failure("read", "socket", errno);
            }
            done += n;
        }
        byte[] out = new byte[length];
        p.get(0, out, 0, length);
        return ByteBuffer.wrap(out);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Native.libc().close(fd);
        }
    }
}
