package io.nbdvault.crypto.aes;

import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;

/**
 * AES/ECB of the JDK (SunJCE). On x86 CPUs with AVX-512 and VAES, HotSpot compiles it to a stub
 * that runs 16 blocks at once (about 17 GB/s per core on a Xeon); elsewhere each block is a call of
 * its own to the one-block AES-NI stub (about 1.2 GB/s on an AMD EPYC with AVX2), where
 * {@link OpenSslAesEcb} is several times faster.
 */
final class JdkAesEcb implements AesEcb {
    private Cipher cipher;

    JdkAesEcb(byte[] key, boolean encrypt) {
        AesEngine.checkKey(key);
        try {
            cipher = Cipher.getInstance("AES/ECB/NoPadding", "SunJCE");
            cipher.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/ECB is part of every JDK", e);
        }
    }

    @Override
    public void apply(byte[] in, int inAt, int length, byte[] out, int outAt) {
        AesEngine.checkCall(cipher == null, in, inAt, length, out, outAt);
        try {
            int written = cipher.update(in, inAt, length, out, outAt);
            if (written != length) {
                throw new IllegalStateException("AES/ECB returned " + written + " of " + length + " bytes");
            }
        } catch (ShortBufferException e) {
            throw new IllegalStateException("the output range was checked, yet the JCE found it short", e);
        }
    }

    /**
     * The JCE keeps its own copy of the expanded key inside the Cipher; dropping it is as far as it
     * lets us go. Later calls are refused as OpenSSL's are.
     */
    @Override
    public void close() {
        cipher = null;
    }
}
