package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksFormatOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault format}: write a new LUKS2 (or LUKS1) header, like cryptsetup luksFormat. */
@Command(name = "format", mixinStandardHelpOptions = true,
        description = {"Create a LUKS2 encrypted volume (aes-xts-plain64, 512-bit key) on a file or block device.",
                "Everything on TARGET is lost. cryptsetup can open the result; with --type luks1 qemu and nbdkit too."})
public final class FormatCommand implements Callable<Integer> {
    @Mixin
    KeyOptions key;

    @Mixin
    KdfOptions kdf;

    @Option(names = "--sector-size", paramLabel = "BYTES", description = "Encryption sector size: 512 (default) or 4096.")
    int sectorSize = 512;

    @Option(names = "--label", paramLabel = "TEXT", description = "Header label (LUKS2).")
    String label = "";

    @Option(names = "--type", paramLabel = "luks2|luks1",
            description = "Header format (default luks2). luks1 takes --pbkdf pbkdf2 and 512-byte sectors only.")
    String type = "luks2";

    @Parameters(paramLabel = "TARGET", description = "File or block device to format.")
    String target;

    @Option(names = "--force", description = "Format TARGET even if it holds a volume (LUKS header or nbdvault metadata).")
    boolean force;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        LuksFormatOptions options = kdf.applyTo(LuksFormatOptions.defaults().withSectorSize(sectorSize).withLabel(label));
        boolean luks1 = switch (type) {
            case "luks2" -> false;
            case "luks1" -> true;
            default -> throw new IllegalArgumentException("--type must be luks2 or luks1, not '" + type + "'");
        };
        try (BlockDevice device = Targets.open(target, false); Passphrase passphrase = key.read("Enter passphrase", true)) {
            io.nbdvault.replication.ExistingContent.refuseUnlessForced(target, device, java.time.Duration.ofSeconds(30), force);
            if (luks1) {
                Luks.formatLuks1(device, passphrase, options);
            } else {
                Luks.format(device, passphrase, options);
            }
        }
        System.err.println("nbdvault: formatted " + target + " as " + type.toUpperCase() + " (" + sectorSize
                + "-byte sectors, " + options.pbkdf().luksName() + ")");
        return 0;
    }
}
