package io.nbdvault.cli;

import io.nbdvault.nativeshim.NbdKernel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** {@code nbdvault detach}: end an attachment; the attach process then flushes and exits. */
@Command(name = "detach", mixinStandardHelpOptions = true,
        description = "Detach /dev/nbdN, or the --fuse directory of an attachment.")
public final class DetachCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DEVICE|DIR")
    Path what;

    @Override
    public Integer call() throws Exception {
        if (Files.isDirectory(what)) {
            Process p = new ProcessBuilder("fusermount3", "-u", what.toString()).inheritIO().start();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new java.io.IOException("fusermount3 -u " + what + " failed");
            }
        } else {
            NbdKernel.disconnect(what);
        }
        return 0;
    }
}
