package io.nbdvault.replication;

/** Progress of a resync, rebuild or scrub, in bytes. */
public interface ProgressListener {
    void progress(long doneBytes, long totalBytes);

    ProgressListener NONE = (done, total) -> { };
}
