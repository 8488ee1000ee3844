package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksFormatOptions;
import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.ArrayGeometry;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;
import io.nbdvault.transport.nbd.NbdClientOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.logging.Logger;

/**
 * The main job out of the box: three sparse file replicas of a 1 GiB encrypted volume in one
 * folder, with a generated key file, created on the first run and reassembled afterwards.
 */
final class EmbeddedDefault {
    private static final Logger LOG = Logger.getLogger(EmbeddedDefault.class.getName());
    static final long VOLUME_SIZE = 1L << 30;

    private final Path dir;

    private EmbeddedDefault(Path dir) {
        this.dir = dir;
    }

    List<String> members() {
        return List.of(dir.resolve("replica-1.img").toString(), dir.resolve("replica-2.img").toString(),
                dir.resolve("replica-3.img").toString());
    }

    KeyOptions keyOptions() {
        KeyOptions k = new KeyOptions();
        k.keyFile = dir.resolve("key");
        return k;
    }

    static EmbeddedDefault prepare(Path dir) throws IOException {
        EmbeddedDefault d = new EmbeddedDefault(dir);
        if (Files.exists(dir.resolve("key"))) {
            return d;
        }
        LOG.info("first run: creating the embedded default in " + dir.toAbsolutePath()
                + " (3 file replicas, " + VOLUME_SIZE + "-byte encrypted volume)");
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        Path keyTmp = dir.resolve("key.new");
        Files.deleteIfExists(keyTmp);
        Files.createFile(keyTmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(keyTmp, HexFormat.of().formatHex(secret));
        java.util.Arrays.fill(secret, (byte) 0);
        LuksFormatOptions luks = LuksFormatOptions.defaults();
        ArrayGeometry geometry = ArrayGeometry.fitting(1, 3, 512 * 1024, VOLUME_SIZE + (16L << 20))
                .withIntegrity(ArrayGeometry.DEFAULT_INTEGRITY_BLOCK);
        try (TransportContext context = new TransportContext(NbdClientOptions.defaults(),
                path -> NativeSupport.fileSpace(path, false));
             Passphrase passphrase = Passphrase.fromKeyFile(keyTmp)) {
            for (String m : d.members()) {
                Files.deleteIfExists(Path.of(m));
            }
            List<Member> members = ReplicaOptions.open(context, d.members(), geometry.memberSize());
            try (ReplicatedArray array = ReplicatedArray.create(members, geometry, ArrayOptions.defaults())) {
                CreateCommand.formatVolume(array, passphrase, luks);
            }
        }
        // The key file appears last: its presence means the default is complete.
        Files.move(keyTmp, dir.resolve("key"));
        LOG.info("key file: " + dir.resolve("key").toAbsolutePath() + " (keep it; the volume cannot be opened without it)");
        return d;
    }
}
