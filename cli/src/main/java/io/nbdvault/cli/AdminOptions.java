package io.nbdvault.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Where the running server's admin socket is (serve prints it when it starts). */
public final class AdminOptions {
    @Option(names = "--admin-socket", paramLabel = "PATH",
            description = "Admin socket of the running server (default: ./nbdvault-data/admin.sock, the embedded default's).")
    Path adminSocket;

    Path socket() {
        return adminSocket != null ? adminSocket : Path.of("nbdvault-data", "admin.sock");
    }
}
