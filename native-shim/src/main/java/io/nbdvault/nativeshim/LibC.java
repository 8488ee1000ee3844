package io.nbdvault.nativeshim;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/** The few libc calls the JDK does not offer. Errors are read back with {@link Native#errno()}. */
public interface LibC {
    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int close(int fd);

    @SaveError
    int fallocate(int fd, int mode, long offset, long length);

    @SaveError
    long lseek(int fd, long offset, int whence);

    @SaveError
    int fsync(int fd);

    @SaveError
    int ioctl(int fd, long request, Pointer argument);

    @SaveError
    int ioctl(int fd, long request, long argument);

    @SaveError
    int mlock(Pointer address, long length);

    @SaveError
    int munlock(Pointer address, long length);

    @SaveError
    int madvise(Pointer address, long length, int advice);

    @SaveError
    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    @SaveError
    int getrlimit(int resource, Pointer rlimit);

    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int connect(int fd, Pointer address, int length);

    @SaveError
    int setsockopt(int fd, int level, int name, Pointer value, int length);

    @SaveError
    long read(int fd, Pointer buffer, long count);

    @SaveError
    long write(int fd, Pointer buffer, long count);

    String strerror(int errno);

    static LibC load() {
        return LibraryLoader.create(LibC.class).load("c");
    }
}
