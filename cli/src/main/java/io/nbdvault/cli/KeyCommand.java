package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import io.nbdvault.crypto.luks.Luks;
import io.nbdvault.crypto.luks.LuksFormatOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code nbdvault key add|remove|change}: manage the passphrases of a LUKS2 volume. */
@Command(name = "key", mixinStandardHelpOptions = true, description = {"Add, remove or change passphrases of a LUKS2 volume.",
        "TARGET is a LUKS2 volume (file or block device), or the members of a replicated volume (any one",
        "finds the others it recorded): its header is then changed through the array, on every copy alike.",
        "A replicated volume must not be served meanwhile (its lease is checked)."},
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
        @Mixin
        ReplicaOptions replicas;
        @Parameters(arity = "1..*", paramLabel = "TARGET")
        List<String> targets;

        @Override
        public Integer call() throws Exception {
            try (Passphrase existing = key.read("Enter any existing passphrase", false);
                 Passphrase added = newKey.read()) {
                KeyTarget.run(targets, replicas, existing, device -> System.err.println("nbdvault: added key slot "
                        + Luks.addKey(device, existing, added, kdf.applyTo(LuksFormatOptions.defaults()))));
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
        @Mixin
        ReplicaOptions replicas;
        @Parameters(arity = "1..*", paramLabel = "TARGET")
        List<String> targets;

        @Override
        public Integer call() throws Exception {
            try (Passphrase passphrase = key.read("Enter passphrase to remove", false)) {
                KeyTarget.run(targets, replicas, passphrase, device -> Luks.removeKey(device, passphrase, force));
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
        @Mixin
        ReplicaOptions replicas;
        @Parameters(arity = "1..*", paramLabel = "TARGET")
        List<String> targets;

        @Override
        public Integer call() throws Exception {
            try (Passphrase old = key.read("Enter passphrase to be changed", false);
                 Passphrase replacement = newKey.read()) {
                KeyTarget.run(targets, replicas, old,
                        device -> Luks.changeKey(device, old, replacement, kdf.applyTo(LuksFormatOptions.defaults())));
                System.err.println("nbdvault: passphrase changed");
            }
            return 0;
        }
    }
}
