package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksFormatOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code nbdvault key add|remove|change}: manage the passphrases of a LUKS2 volume. */
@Command(name = "key", mixinStandardHelpOptions = true, description = "Add, remove or change passphrases of a LUKS2 volume.",
        subcommands = {KeyCommand.Add.class, KeyCommand.Remove.class, KeyCommand.Change.class})
public final class KeyCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.err);
    }

    /** The new passphrase: --new-key-file, or a prompt. */
    static final class NewKey {
        @Option(names = "--new-key-file", paramLabel = "FILE", description = "Read the new passphrase from FILE.")
        Path newKeyFile;

        Passphrase read() throws Exception {
            if (newKeyFile != null) {
                return Passphrase.fromKeyFile(newKeyFile);
            }
            KeyOptions prompt = new KeyOptions();
            return prompt.read("Enter new passphrase", true);
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Add a passphrase (unlocking with an existing one).")
    static final class Add implements Callable<Integer> {
        @Mixin
        KeyOptions key;
        @Mixin
        KdfOptions kdf;
        @Mixin
        NewKey newKey;
        @Parameters(paramLabel = "TARGET")
        String target;

        @Override
        public Integer call() throws Exception {
            try (BlockDevice device = Targets.open(target, false);
                 Passphrase existing = key.read("Enter any existing passphrase", false);
                 Passphrase added = newKey.read()) {
                int slot = Luks.addKey(device, existing, added, kdf.applyTo(LuksFormatOptions.defaults()));
                System.err.println("nbdvault: added key slot " + slot);
            }
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove the key slot a passphrase opens.")
    static final class Remove implements Callable<Integer> {
        @Mixin
        KeyOptions key;
        @Option(names = "--force", description = "Allow removing the last key slot (the data becomes unrecoverable).")
        boolean force;
        @Parameters(paramLabel = "TARGET")
        String target;

        @Override
        public Integer call() throws Exception {
            try (BlockDevice device = Targets.open(target, false);
                 Passphrase passphrase = key.read("Enter passphrase to remove", false)) {
                Luks.removeKey(device, passphrase, force);
                System.err.println("nbdvault: key slot removed");
            }
            return 0;
        }
    }

    @Command(name = "change", mixinStandardHelpOptions = true, description = "Replace a passphrase with a new one.")
    static final class Change implements Callable<Integer> {
        @Mixin
        KeyOptions key;
        @Mixin
        KdfOptions kdf;
        @Mixin
        NewKey newKey;
        @Parameters(paramLabel = "TARGET")
        String target;

        @Override
        public Integer call() throws Exception {
            try (BlockDevice device = Targets.open(target, false);
                 Passphrase old = key.read("Enter passphrase to be changed", false);
                 Passphrase replacement = newKey.read()) {
                Luks.changeKey(device, old, replacement, kdf.applyTo(LuksFormatOptions.defaults()));
                System.err.println("nbdvault: passphrase changed");
            }
            return 0;
        }
    }
}
