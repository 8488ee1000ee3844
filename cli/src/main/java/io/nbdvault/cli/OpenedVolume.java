package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksVolume;
import io.nbdvault.nativeshim.ProcessHardening;

import java.util.logging.Logger;

/**
 * What a serving command exports: the target itself, or the plaintext of the LUKS volume on it.
 * Unlocking also hardens the process (no core dumps, key locked in memory) because from then on
 * it holds a volume key.
 */
final class OpenedVolume implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(OpenedVolume.class.getName());

    private final BlockDevice raw;
    private final LuksVolume luks;

    private OpenedVolume(BlockDevice raw, LuksVolume luks) {
        this.raw = raw;
        this.luks = luks;
    }

    static OpenedVolume plain(BlockDevice raw) {
        return new OpenedVolume(raw, null);
    }

    static OpenedVolume unlock(BlockDevice raw, KeyOptions key) throws Exception {
        ProcessHardening.makeNonDumpable();
        LuksVolume volume;
        try (Passphrase passphrase = key.read("Enter passphrase", false)) {
            volume = Luks.open(raw, passphrase);
        }
        ProcessHardening.LockResult lock = ProcessHardening.lock(volume.keyBuffer());
        if (!lock.locked()) {
            LOG.warning(lock.warning());
        }
        return new OpenedVolume(raw, volume);
    }

    BlockDevice device() {
        return luks == null ? raw : luks.plaintext();
    }

    boolean encrypted() {
        return luks != null;
    }

    int luksVersion() {
        return luks == null ? 0 : luks.version();
    }

    /** Flushes, zeroes the key, closes the target. */
    @Override
    public void close() {
        try {
            device().flush().join();
        } catch (RuntimeException e) {
            LOG.warning("flush on close failed: " + e.getMessage());
        }
        if (luks != null) {
            ProcessHardening.unlock(luks.keyBuffer());
            luks.close();
        }
        raw.close();
    }
}
