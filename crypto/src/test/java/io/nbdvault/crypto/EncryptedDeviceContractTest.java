package io.nbdvault.crypto;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.crypto.xts.AesXts;
import io.nbdvault.testing.BlockDeviceContract;

import java.util.Random;

/** The encryption layer keeps the block-device contract (large requests go through the crypto workers). */
class EncryptedDeviceContractTest extends BlockDeviceContract {
    @Override
    protected BlockDevice newDevice(int size) {
        byte[] key = new byte[64];
        new Random(5).nextBytes(key);
        EncryptedDevice d = new EncryptedDevice(new MemoryDevice(size + 8192L), 8192, size, new AesXts(key), 512, 0);
        // Zero ciphertext decrypts to noise, as on dm-crypt: a fresh volume is encrypted zeroes.
        d.writeZeroes(0, size, WriteFlags.NONE).join();
        return d;
    }
}
