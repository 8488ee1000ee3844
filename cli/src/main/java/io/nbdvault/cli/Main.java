package io.nbdvault.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code nbdvault} command; each subcommand lives in its own class. */
@Command(name = "nbdvault",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Encrypted, replicated block device exported over NBD.",
        subcommands = {
                CommandLine.HelpCommand.class,
                ServeCommand.class,
                CreateCommand.class,
                StatusCommand.class,
                FailCommand.class,
                ReAddCommand.class,
                ReplaceCommand.class,
                ScrubCommand.class,
                ExportCommand.class,
                FormatCommand.class,
                KeyCommand.class,
                HeaderCommand.class,
                UpgradeCommand.class,
                AttachCommand.class,
                DetachCommand.class,
        })
public final class Main implements Runnable {

    public static void main(String[] args) {
        // Only here, not in run(): tests that run commands in-process keep their own Netty settings.
        NettyDefaults.apply(System.getProperties());
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code, for tests that run it in-process. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(new OneLineErrors());
        return cli.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }
}
