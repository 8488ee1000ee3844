package io.nbdvault.core;

import java.io.IOException;

/**
 * Allocation control of a file or block device that plain Java cannot reach (fallocate,
 * SEEK_DATA/SEEK_HOLE, BLKDISCARD). The native shim provides the real one; {@link #NONE} makes
 * {@link FileDevice} fall back to writing zeroes and reporting everything as data.
 */
public interface FileSpace extends AutoCloseable {

    /** Deallocates a range, keeping the file size; it then reads as zeroes. False when the file system cannot. */
    boolean punchHole(long offset, long length) throws IOException;

    /**
     * Discards a range for TRIM, where what it reads as afterwards does not matter (a block device's
     * BLKDISCARD). Defaults to punching a hole. False when nothing could be discarded.
     */
    default boolean discard(long offset, long length) throws IOException {
        return punchHole(offset, length);
    }

    /**
     * Start of the next data region at or after {@code offset}, or {@code limit} when there is
     * none before it; -1 when the file system cannot tell (everything is then reported as data).
     */
    long nextData(long offset, long limit) throws IOException;

    /** Start of the next hole at or after {@code offset}, or {@code limit}; -1 when unknown. */
    long nextHole(long offset, long limit) throws IOException;

    @Override
    void close();

    FileSpace NONE = new FileSpace() {
        @Override
        public boolean punchHole(long offset, long length) {
            return false;
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
        }
    };
}
