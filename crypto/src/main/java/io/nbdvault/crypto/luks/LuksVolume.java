package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.EncryptedDevice;

import java.nio.ByteBuffer;

/** An unlocked LUKS volume: the plaintext device on top of the ciphertext one. */
public final class LuksVolume implements AutoCloseable {
    private final EncryptedDevice plaintext;
    private final VolumeKey key;
    private final int sectorSize;
    private final long payloadOffset;
    private final int version;

    LuksVolume(EncryptedDevice plaintext, VolumeKey key, int sectorSize, long payloadOffset, int version) {
        this.plaintext = plaintext;
        this.key = key;
        this.sectorSize = sectorSize;
        this.payloadOffset = payloadOffset;
        this.version = version;
    }

    public BlockDevice plaintext() {
        return plaintext;
    }

    public int sectorSize() {
        return sectorSize;
    }

    public long payloadOffset() {
        return payloadOffset;
    }

    /** 1 or 2. */
    public int version() {
        return version;
    }

    /** The off-heap buffer holding the volume key, for locking it in memory; never log it. */
    public ByteBuffer keyBuffer() {
        return key.buffer();
    }

    /** Zeroes the volume key; the ciphertext device below stays open (it belongs to the caller). */
    @Override
    public void close() {
        plaintext.close();
        key.close();
    }
}
