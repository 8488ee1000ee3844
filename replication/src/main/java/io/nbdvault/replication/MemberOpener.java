package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;

import java.util.concurrent.CompletableFuture;

/** Opens a replica by the name the user gave it (a URI or a path): how a returning or new replica is reached. */
@FunctionalInterface
public interface MemberOpener {
    CompletableFuture<BlockDevice> open(String name);
}
