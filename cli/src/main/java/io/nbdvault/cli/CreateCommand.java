package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksFormatOptions;
import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.ExistingContent;
import io.nbdvault.replication.ArrayGeometry;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code nbdvault create}: a new replicated, encrypted volume over the given members. */
@Command(name = "create", mixinStandardHelpOptions = true,
        description = {"Create a replicated volume (G mirror groups of N copies, striped) and format it as LUKS2.",
                "MEMBERs are files (created sparse if missing), block devices, nbd:// or nbd+unix:// URIs,",
                "listed group by group: the first N members form group 0, and so on."})
public final class CreateCommand implements Callable<Integer> {
    @Option(names = "--copies", paramLabel = "N", description = "Copies of every chunk (default 3).")
    int copies = 3;

    @Option(names = "--groups", paramLabel = "G", description = "Mirror groups striped together (default 1).")
    int groups = 1;

    @Option(names = "--chunk", paramLabel = "SIZE", converter = SizeConverter.class, description = "Stripe chunk (default 512K).")
    long chunk = 512 * 1024;

    @Option(names = "--bitmap-chunk", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Bytes of each member per write-intent bitmap bit (default 4M; grown to fit 512Ki bits).")
    long bitmapChunk = io.nbdvault.replication.BitmapHeader.DEFAULT_REGION_SIZE;

    @Option(names = "--size", paramLabel = "SIZE", required = true, converter = SizeConverter.class,
            description = "Size of the volume (before the 16 MiB LUKS header).")
    long size;

    @Option(names = "--sector-size", paramLabel = "BYTES", description = "Encryption sector size: 512 (default) or 4096.")
    int sectorSize = 512;

    @Option(names = "--integrity", paramLabel = "MAC",
            description = "Integrity tags on every member block: pmac-aes256 (default) or none. A copy that was altered, "
                    + "rotted or rolled back block by block is never read; it is repaired from a copy that verifies.")
    String integrity = "pmac-aes256";

    @Option(names = "--force", description = "Overwrite members that hold a volume (nbdvault or LUKS metadata).")
    boolean force;

    @Mixin
    KeyOptions key;

    @Mixin
    KdfOptions kdf;

    @Mixin
    ReplicaOptions replicas;

    @Parameters(arity = "1..*", paramLabel = "MEMBER")
    List<String> members;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        if (chunk > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--chunk is too large");
        }
        ArrayGeometry geometry = ArrayGeometry.fitting(groups, copies, (int) chunk, size);
        switch (integrity) {
            case "pmac-aes256" -> geometry = geometry.withIntegrity(ArrayGeometry.DEFAULT_INTEGRITY_BLOCK);
            case "none" -> { }
            default -> throw new IllegalArgumentException("--integrity must be pmac-aes256 or none, not " + integrity);
        }
        LuksFormatOptions luks = kdf.applyTo(LuksFormatOptions.defaults().withSectorSize(sectorSize));
        try (Passphrase passphrase = key.read("Enter passphrase", true);
             TransportContext context = replicas.context()) {
            List<Member> opened = ReplicaOptions.open(context, members, geometry.memberSize());
            try {
                for (Member m : opened) {
                    ExistingContent.refuseUnlessForced(m.name(), m.device(), replicas.timeout(), force);
                }
            } catch (RuntimeException e) {
                opened.forEach(m -> m.device().close());
                throw e;
            }
            ArrayOptions defaults = replicas.arrayOptions(context, false, 0);
            ArrayOptions options = defaults.withBitmap(bitmapChunk, defaults.bitmapIdle());
            try (ReplicatedArray array = ReplicatedArray.create(opened, geometry, options)) {
                formatVolume(array, passphrase, luks);
                System.err.println("nbdvault: created array " + array.id() + ": " + groups + " group(s) of " + copies
                        + " copies, " + geometry.dataSize() + " bytes, each member needs " + geometry.memberSize() + " bytes");
            }
        }
        return 0;
    }

    /**
     * Writes the LUKS2 header on a new array. The volume key is made first: an array with integrity
     * derives its tag keys from it, and tags every block from the header on.
     */
    static void formatVolume(ReplicatedArray array, Passphrase passphrase, LuksFormatOptions luks) throws java.io.IOException {
        byte[] key = Luks.newVolumeKey(luks);
        try {
            array.enableIntegrity(java.nio.ByteBuffer.wrap(key));
            Luks.format(array.volume(), passphrase, luks, key);
        } finally {
            java.util.Arrays.fill(key, (byte) 0);
        }
    }
}
