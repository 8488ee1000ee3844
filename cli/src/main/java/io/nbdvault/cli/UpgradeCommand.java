package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksVolume;
import io.nbdvault.replication.ArrayGeometry;
import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.IntegrityUpgrade;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code nbdvault upgrade --integrity}: integrity tags for a volume created without them. */
@Command(name = "upgrade", mixinStandardHelpOptions = true,
        description = {"Give a replicated volume created without integrity tags its tags (see create --integrity).",
                "Offline: stop serving the volume first; every member must be given. Each member needs room for",
                "the tags after its data (1/256 of it): file members are grown (their metadata",
                "moved to the new end); other members must have the room already.",
                "Every block is then written back to every copy with its tag, from the content most copies hold."})
public final class UpgradeCommand implements Callable<Integer> {
    @Option(names = "--integrity", paramLabel = "MAC", required = true, description = "pmac-aes256.")
    String integrity;

    @Mixin
    KeyOptions key;

    @Mixin
    ReplicaOptions replicas;

    @Parameters(arity = "1..*", paramLabel = "MEMBER")
    List<String> members;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        if (!integrity.equals("pmac-aes256")) {
            throw new IllegalArgumentException("--integrity must be pmac-aes256, not " + integrity);
        }
        try (Passphrase passphrase = key.read("Enter passphrase", false);
             TransportContext context = replicas.context()) {
            ArrayOptions options = replicas.arrayOptions(context, false, 0);
            int block = ArrayGeometry.DEFAULT_INTEGRITY_BLOCK;
            long needed;
            // The passphrase, and that the array has no tags yet, are checked before anything is written.
            try (ReplicatedArray array = ReplicatedArray.assemble(ReplicaOptions.open(context, members, 0), options);
                 LuksVolume ignored = Luks.open(array.volume(), passphrase)) {
                if (array.hasIntegrity()) {
                    throw new IllegalStateException("array " + array.id() + " has integrity tags already");
                }
                needed = array.geometry().withIntegrity(block).memberSize();
            }
            for (String m : members) {
                Path file = Path.of(m);
                if (!m.contains("://") && Files.isRegularFile(file) && Files.size(file) < needed) {
                    growKeepingMetadata(file, needed);
                }
            }
            List<Member> opened = ReplicaOptions.open(context, members, 0);
            ArrayGeometry geometry;
            try {
                geometry = IntegrityUpgrade.prepare(opened, block, options);
            } finally {
                opened.forEach(m -> m.device().close());
            }
            System.err.println("nbdvault: tagging " + geometry.dataSize() + " bytes on each of " + members.size()
                    + " members (every block is written back)...");
            try (ReplicatedArray array = ReplicatedArray.assemble(ReplicaOptions.open(context, members, 0), options);
                 LuksVolume volume = Luks.open(array.volume(), passphrase)) {
                array.enableIntegrity(volume.keyBuffer());
                System.err.println("nbdvault: array " + array.id() + " has integrity tags (pmac-aes256, one per " + block
                        + "-byte block)");
            }
        }
        return 0;
    }

    /**
     * Grows a file member to {@code size}, moving its metadata area (superblocks, bitmap, addresses,
     * lease: its last MiB) to the new end, where the array looks for it; the old copy is left in what
     * becomes the tag area, which the upgrade then writes over. Durable before it returns.
     */
    static void growKeepingMetadata(Path file, long size) throws java.io.IOException {
        int area = (int) ArrayGeometry.METADATA_SIZE;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long old = f.length();
            byte[] metadata = new byte[area];
            f.seek(old - area);
            f.readFully(metadata);
            f.setLength(size);
            f.seek(size - area);
            f.write(metadata);
            f.getFD().sync();
            System.err.println("nbdvault: grew " + file + " from " + old + " to " + size
                    + " bytes (room for the tags; its metadata moved to the new end)");
        }
    }
}
