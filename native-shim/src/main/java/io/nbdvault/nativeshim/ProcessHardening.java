package io.nbdvault.nativeshim;

import jnr.ffi.Pointer;

import java.nio.ByteBuffer;
import java.util.logging.Logger;

/**
 * Keeps secrets out of swap and core dumps: the process is made non-dumpable, and key buffers are
 * locked in memory and excluded from dumps. Each step degrades to a single clear warning when the
 * system forbids it, because refusing to run would be worse than running without it.
 */
public final class ProcessHardening {
    private static final Logger LOG = Logger.getLogger(ProcessHardening.class.getName());

    private ProcessHardening() {
    }

    /** prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace attach by other users. */
    public static boolean makeNonDumpable() {
        if (!Native.available()) {
            LOG.warning("cannot mark the process non-dumpable: " + Native.unavailableReason());
            return false;
        }
        if (Native.libc().prctl(Linux.PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
            LOG.warning("prctl(PR_SET_DUMPABLE, 0) failed: " + Native.libc().strerror(Native.errno()));
            return false;
        }
        return true;
    }

    public static int dumpable() {
        return Native.libc().prctl(Linux.PR_GET_DUMPABLE, 0, 0, 0, 0);
    }

    /** Outcome of locking a buffer: whether it worked, and why not. */
    public record LockResult(boolean locked, String warning) {
    }

    /**
     * mlock + MADV_DONTDUMP for a direct buffer holding key material. When RLIMIT_MEMLOCK is too low
     * the result carries a warning saying so (and the limit); the buffer still works, unlocked.
     */
    public static LockResult lock(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("only direct buffers can be locked");
        }
        if (!Native.available()) {
            return new LockResult(false, "cannot lock key memory: " + Native.unavailableReason());
        }
        Pointer p = Pointer.wrap(Native.runtime(), direct);
        Native.libc().madvise(pageStart(p), pageSpan(p, direct.capacity()), Linux.MADV_DONTDUMP);
        if (Native.libc().mlock(p, direct.capacity()) == 0) {
            return new LockResult(true, null);
        }
        int errno = Native.errno();
        return new LockResult(false, "could not lock key memory (mlock: " + Native.libc().strerror(errno)
                + "); RLIMIT_MEMLOCK is " + memlockLimit() + " bytes; raise it with `ulimit -l` to keep keys out of swap");
    }

    public static void unlock(ByteBuffer direct) {
        if (Native.available() && direct.isDirect()) {
            Native.libc().munlock(Pointer.wrap(Native.runtime(), direct), direct.capacity());
        }
    }

    /** Soft RLIMIT_MEMLOCK in bytes (-1 = unlimited). */
    public static long memlockLimit() {
        Pointer rlimit = jnr.ffi.Memory.allocateDirect(Native.runtime(), 16);
        if (Native.libc().getrlimit(Linux.RLIMIT_MEMLOCK, rlimit) != 0) {
            return -1;
        }
        return rlimit.getLong(0);
    }

    private static Pointer pageStart(Pointer p) {
        long address = p.address() & ~4095L;
        return Pointer.wrap(Native.runtime(), address);
    }

    private static long pageSpan(Pointer p, long length) {
        long start = p.address() & ~4095L;
        long end = (p.address() + length + 4095L) & ~4095L;
        return end - start;
    }
}
