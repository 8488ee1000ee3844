package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.crypto.luks.Luks;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault header dump}: show a LUKS header (like cryptsetup luksDump), never secrets. */
@Command(name = "header", mixinStandardHelpOptions = true, description = "Inspect LUKS headers.",
        subcommands = HeaderCommand.Dump.class)
public final class HeaderCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.err);
    }

    @Command(name = "dump", mixinStandardHelpOptions = true, description = "Print the LUKS header of TARGET.")
    static final class Dump implements Callable<Integer> {
        @Parameters(paramLabel = "TARGET", description = "File or block device holding a LUKS1 or LUKS2 header.")
        String target;

        @Override
        public Integer call() throws Exception {
            try (BlockDevice device = Targets.open(target, true)) {
                System.out.print(Luks.dump(device));
            }
            return 0;
        }
    }
}
