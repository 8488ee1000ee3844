package io.nbdvault.crypto.aes;

import jnr.ffi.Pointer;

import java.lang.ref.Cleaner;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * An OpenSSL cipher context (EVP_CIPHER_CTX) owned by one Java object: allocated and initialised
 * together, and freed (OpenSSL zeroes the key schedule as it frees) by {@link #free()} or, if the
 * owner never calls it, once the owner is unreachable. One cleaner thread serves every context.
 */
final class CipherContext {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Pointer pointer;
    private final Cleaner.Cleanable freeing;

    private CipherContext(Pointer pointer, Cleaner.Cleanable freeing) {
        this.pointer = pointer;
        this.freeing = freeing;
    }

    /**
     * A new context for {@code owner}, initialised by {@code init} (which says whether OpenSSL took
     * it); when OpenSSL cannot allocate one, IllegalStateException; when {@code init} fails, the
     * context is freed and {@code refused}'s exception thrown.
     */
    static CipherContext open(LibCrypto lib, Object owner, Predicate<Pointer> init, Supplier<RuntimeException> refused) {
        Pointer ctx = lib.EVP_CIPHER_CTX_new();
        if (ctx == null) {
            throw new IllegalStateException("OpenSSL could not allocate a cipher context");
        }
        CipherContext context = new CipherContext(ctx, CLEANER.register(owner, () -> lib.EVP_CIPHER_CTX_free(ctx)));
        if (!init.test(ctx)) {
            context.free();
            throw refused.get();
        }
        return context;
    }

    Pointer pointer() {
        return pointer;
    }

    /** Frees the context now; later calls do nothing. */
    void free() {
        freeing.clean();
    }
}
