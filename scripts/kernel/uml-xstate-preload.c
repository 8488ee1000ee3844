/*
 * LD_PRELOAD shim for linux.uml (user-mode-linux 6.1) on hosts whose XSAVE area is larger than the
 * 832 bytes (x87 + SSE + AVX) UML saves per process, e.g. CPUs with AVX-512 and AMX. Newer host
 * kernels refuse a PTRACE_SETREGSET(NT_X86_XSTATE) shorter than the whole area with EFAULT, and
 * UML then dies at its first user process ("ptrace set fp regs failed, errno = 14").
 *
 * The shim completes a short write: it reads the child's whole current state and lays UML's bytes
 * over its start, so the components UML does not know about keep their current values. Those
 * components are not switched between guest threads of one address space, which is why
 * scripts/kernel-run.sh also tells glibc and the JVM inside the guest not to use AVX-512.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <string.h>
#define PTRACE_GETREGSET 0x4204
#define PTRACE_SETREGSET 0x4205
#include <sys/types.h>
#include <sys/uio.h>

static long (*real_ptrace)(int, pid_t, void *, void *);
static __thread unsigned char full[1 << 16] __attribute__((aligned(64)));

long ptrace(int request, ...) {
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real_ptrace) real_ptrace = (long (*)(int, pid_t, void *, void *)) dlsym(RTLD_NEXT, "ptrace");
    if (request == PTRACE_SETREGSET && (long) addr == NT_X86_XSTATE) {
        struct iovec *iov = data;
        struct iovec all = { full, sizeof full };
        if (real_ptrace(PTRACE_GETREGSET, pid, addr, &all) == 0 && all.iov_len > iov->iov_len) {
            memcpy(full, iov->iov_base, iov->iov_len);
            return real_ptrace(request, pid, addr, &all);
        }
    }
    return real_ptrace(request, pid, addr, data);
}
