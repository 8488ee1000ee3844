package io.nbdvault.replication;

/** Told when a copy is taken out of service, so the failure can be recorded in the survivors' metadata. */
public interface MirrorListener {
    void copyFailed(int copy, Throwable cause);

    MirrorListener NONE = (copy, cause) -> { };
}
