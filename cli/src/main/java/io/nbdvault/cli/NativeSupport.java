package io.nbdvault.cli;

import io.nbdvault.core.FileSpace;
import io.nbdvault.nativeshim.Native;
import io.nbdvault.nativeshim.NativeFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/** Connects the native shim to the core API: real TRIM and block status for regular files. */
final class NativeSupport {
    private static final Logger LOG = Logger.getLogger(NativeSupport.class.getName());

    private NativeSupport() {
    }

    /**
     * Hole punching and SEEK_DATA/SEEK_HOLE for a regular file. Block devices get none: a discarded
     * block may read back as anything, which would break WRITE_ZEROES and TRIM's zero promise.
     */
    static FileSpace fileSpace(Path path, boolean readOnly) {
        if (!Native.available() || !Files.exists(path)) {
            // A missing member is reported by its open, once; not here, at every probe.
            return FileSpace.NONE;
        }
        if (!Files.isRegularFile(path)) {
            if (readOnly) {
                return FileSpace.NONE;
            }
            try {
                return new BlockDeviceSpace(NativeFile.open(path, false, false));
            } catch (IOException e) {
                LOG.warning("no discard for " + path + ": " + e.getMessage());
                return FileSpace.NONE;
            }
        }
        try {
            return new NativeFileSpace(NativeFile.open(path, readOnly, false));
        } catch (IOException e) {
            LOG.warning("no hole punching for " + path + ": " + e.getMessage());
            return FileSpace.NONE;
        }
    }

    static long blockDeviceSize(Path path) throws IOException {
        if (!Native.available()) {
            throw new IOException("cannot read the size of " + path + ": " + Native.unavailableReason());
        }
        try (NativeFile f = NativeFile.open(path, true, false)) {
            return f.blockDeviceSize();
        }
    }

    /** A block device: TRIM becomes BLKDISCARD; zeroes are always written, since discarded blocks may not read as zero. */
    private record BlockDeviceSpace(NativeFile device) implements FileSpace {
        @Override
        public boolean punchHole(long offset, long length) {
            return false;
        }

        @Override
        public boolean discard(long offset, long length) throws IOException {
            device.discard(offset, length);
            return true;
        }

        @Override
        public long nextData(long offset, long limit) {
            return -1;
        }

        @Override
        public long nextHole(long offset, long limit) {
            return -1;
        }

        @Override
        public void close() {
            try {
                device.flushBuffers();
            } catch (IOException e) {
                LOG.fine(() -> "BLKFLSBUF: " + e.getMessage());
            }
            device.close();
        }
    }

    private record NativeFileSpace(NativeFile file) implements FileSpace {
        @Override
        public boolean punchHole(long offset, long length) throws IOException {
            return file.punchHole(offset, length);
        }

        @Override
        public long nextData(long offset, long limit) throws IOException {
            return file.seekData(offset, limit);
        }

        @Override
        public long nextHole(long offset, long limit) throws IOException {
            return file.seekHole(offset, limit);
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
