package io.nbdvault.crypto.aes;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.LongLong;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.Pinned;

/**
 * The few EVP calls of OpenSSL's libcrypto (1.1 or 3) that bulk AES and XTS need, bound with
 * jnr-ffi. Arrays are pinned ({@code @Pinned}: the JVM hands over the array's own memory for the
 * call), so neither data nor key is copied into a temporary native buffer on the way; data already
 * in native memory (a direct buffer) is passed by its address.
 */
public interface LibCrypto {
    @IgnoreError Pointer EVP_CIPHER_CTX_new();

    @IgnoreError void EVP_CIPHER_CTX_free(Pointer ctx);

    @IgnoreError Pointer EVP_aes_128_ecb();

    @IgnoreError Pointer EVP_aes_192_ecb();

    @IgnoreError Pointer EVP_aes_256_ecb();

    @IgnoreError Pointer EVP_aes_128_xts();

    @IgnoreError Pointer EVP_aes_256_xts();

    @IgnoreError int EVP_CipherInit_ex(Pointer ctx, Pointer cipher, Pointer engine, @Pinned @In byte[] key, Pointer iv, int encrypt);

    @IgnoreError int EVP_CIPHER_CTX_set_padding(Pointer ctx, int padding);

    @IgnoreError int EVP_CipherUpdate(Pointer ctx, @Pinned @Out byte[] out, @Pinned @Out int[] outLength,
                                      @Pinned @In byte[] in, int inLength);

    /** The same on native memory: {@code out}, {@code outLength} and {@code in} are addresses. */
    @IgnoreError int EVP_CipherUpdate(Pointer ctx, @LongLong long out, @LongLong long outLength,
                                      @LongLong long in, int inLength);

    /**
     * Where the context keeps its IV: OpenSSL 1.1's own field, OpenSSL 3's provider's (by the
     * octet-pointer parameter "updated-iv"). Deprecated in OpenSSL 3, still exported; see
     * {@link OpenSslXts} for why it is used and how it is checked.
     */
    @IgnoreError Pointer EVP_CIPHER_CTX_iv_noconst(Pointer ctx);

    /** OpenSSL 1.1 and later: the library's version text ({@code type} 0). */
    @IgnoreError String OpenSSL_version(int type);

    /**
     * The system's libcrypto: {@code libcrypto.so} where the development link exists, else the
     * versioned library every OpenSSL installation has. Throws (a LinkageError or an
     * UnsatisfiedLinkError) when there is none, or when it lacks one of these calls.
     */
    static LibCrypto load() {
        LinkageError last = null;
        for (String name : new String[] {"crypto", "libcrypto.so.3", "libcrypto.so.1.1"}) {
            try {
                return LibraryLoader.create(LibCrypto.class).failImmediately().load(name);
            } catch (LinkageError e) {
                last = e;
            }
        }
        throw last;
    }
}
