package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.DeadlineDevice;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * What a device already holds, so that `create`, `format` and `replace` refuse to overwrite a
 * volume by mistake (as mdadm and cryptsetup ask before they do): an nbdvault member's superblock
 * at its end, or a LUKS header at its start. Reads with a deadline, never blocks.
 */
public final class ExistingContent {
    /** "LUKS\xba\xbe": the magic of LUKS1 and LUKS2 primary headers. */
    private static final byte[] LUKS_MAGIC = {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe};

    private ExistingContent() {
    }

    /** A description of what {@code device} holds, or empty when it looks unused; fails if it cannot be read. */
    public static CompletableFuture<Optional<String>> of(BlockDevice device, Duration deadline) {
        BlockDevice d = new DeadlineDevice(device, deadline);
        CompletableFuture<Optional<String>> member = superblock(d).thenApply(sb -> sb.map(
                found -> "nbdvault metadata (member " + found.member() + " of array " + found.array() + ")"));
        return member.thenCompose(found -> found.isPresent() || d.size() < LUKS_MAGIC.length
                ? CompletableFuture.completedFuture(found) : luksHeader(d));
    }

    /**
     * Whether {@code device} is a member of a replicated array (its LUKS header, if any, is one copy
     * of the array's and must only be changed through the array); fails if it cannot be read.
     */
    public static CompletableFuture<Boolean> isArrayMember(BlockDevice device, Duration deadline) {
        return superblock(new DeadlineDevice(device, deadline)).thenApply(Optional::isPresent);
    }

    private static CompletableFuture<Optional<Superblock>> superblock(BlockDevice d) {
        if (d.size() < ArrayGeometry.METADATA_SIZE) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return MetadataIo.read(d).handle((sb, error) -> {
            if (error == null) {
                return Optional.of(sb);
            }
            Throwable cause = BlockDeviceException.unwrap(error);
            if (cause instanceof InvalidMetadataException) {
                return Optional.empty();
            }
            throw new CompletionException(cause);
        });
    }

    private static CompletableFuture<Optional<String>> luksHeader(BlockDevice d) {
        return d.read(0, LUKS_MAGIC.length).thenApply(head -> {
            try {
                byte[] bytes = new byte[LUKS_MAGIC.length];
                head.getBytes(head.readerIndex(), bytes);
                return java.util.Arrays.equals(bytes, LUKS_MAGIC) ? Optional.of("a LUKS header") : Optional.empty();
            } finally {
                head.release();
            }
        });
    }

    /** Refuses (unless {@code force}) to overwrite a device that holds a volume; for the CLI, which may block. */
    public static void refuseUnlessForced(String name, BlockDevice device, Duration deadline, boolean force) {
        if (force) {
            return;
        }
        Optional<String> held = of(device, deadline).join();
        if (held.isPresent()) {
            throw new IllegalArgumentException(name + " already holds " + held.get() + "; use --force to overwrite it");
        }
    }
}
