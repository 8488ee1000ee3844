package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksVolume;
import io.nbdvault.nativeshim.ProcessHardening;
import io.nbdvault.replication.ExistingContent;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;

import java.util.List;

/**
 * Where a key command changes a LUKS header: on one LUKS volume (a file, block device or
 * {@code memory:}), or on a replicated volume through its array, so that every copy gets the same
 * header, with its integrity tags, and the bitmap brings a member that is away up to date when it
 * returns.
 *
 * <p>A member of an array named alone is never changed by itself: its header is one copy among
 * several, which the others would outvote (integrity repair, scrub, a read served from another
 * copy), silently undoing a new passphrase or bringing back a removed one. The array is assembled
 * from it and the members its metadata records instead. Assembly takes the members' lease, so a
 * volume being served is refused rather than changed underneath its server.
 */
final class KeyTarget {
    /** A LUKS key operation on the device that holds the header. */
    interface Operation {
        void apply(BlockDevice device) throws Exception;
    }

    private KeyTarget() {
    }

    /** Runs {@code operation} on the volume {@code targets} name; {@code unlocking} must open it (for integrity tags). */
    static void run(List<String> targets, ReplicaOptions replicas, Passphrase unlocking, Operation operation) throws Exception {
        Logging.configure();
        ProcessHardening.makeNonDumpable(); // the volume key is in memory while the slots change
        if (targets.size() == 1 && !isArrayMember(targets.get(0), replicas)) {
            try (BlockDevice device = Targets.open(targets.get(0), false)) {
                operation.apply(device);
            }
            return;
        }
        try (TransportContext context = replicas.context();
             ReplicatedArray array = ArrayAssembler.assemble(context, targets, replicas,
                     replicas.arrayOptions(context, false, 0))) {
            // With integrity, the array takes updates only once it has the volume key (the key
            // operation then unlocks once more: the Luks calls take a passphrase, not a key).
            if (array.hasIntegrity()) {
                try (LuksVolume volume = Luks.open(array.volume(), unlocking)) {
                    array.enableIntegrity(volume.keyBuffer());
                }
            }
            operation.apply(array.volume());
        }
    }

    /** URIs name members (a lone volume is a file or block device); a file is one if it has an array's metadata. */
    private static boolean isArrayMember(String target, ReplicaOptions replicas) throws Exception {
        if (target.startsWith("memory:")) {
            return false;
        }
        if (target.contains("://") && !target.startsWith("file://")) {
            return true;
        }
        try (BlockDevice device = Targets.open(target, true)) {
            return ExistingContent.isArrayMember(device, replicas.timeout()).join();
        }
    }
}
