package io.nbdvault.cli;

import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code nbdvault serve}: assemble a replicated array, unlock it, and export the plaintext over NBD.
 * With no MEMBER it runs the embedded default: three file replicas under ./nbdvault-data, served on
 * the unix socket ./nbdvault-data/nbd.sock (mode 0600) unless --listen or --socket says otherwise.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Assemble a replicated, encrypted volume and serve it over NBD until interrupted.",
                "Without MEMBERs: the embedded default (./nbdvault-data, created on first run), served on the",
                "unix socket ./nbdvault-data/nbd.sock (mode 0600; TCP only with --listen)."})
public final class ServeCommand implements Callable<Integer> {
    @Mixin
    ListenOptions listen;

    @Mixin
    AssembledVolume.Options volumeOptions;

    @Option(names = "--name", paramLabel = "NAME", description = "Export name (default: empty).")
    String name = "";

    @Parameters(arity = "0..*", paramLabel = "MEMBER", description = "Members as given to create, in any order.")
    List<String> members = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        if (members.isEmpty() && listen.listen == null && listen.socket == null) {
            // The embedded default serves the plaintext on a 0600 unix socket in its folder: on TCP
            // 127.0.0.1 any local user could read and write it. TCP only when asked (--listen).
            listen.socket = volumeOptions.dataDir.resolve("nbd.sock").toAbsolutePath();
        }
        AssembledVolume volume = AssembledVolume.open(members, volumeOptions, arrayId -> listen.socket != null
                ? Path.of(listen.socket + ".admin") : AssembledVolume.runtimeAdminSocket(arrayId));
        NbdServer server;
        try {
            server = listen.applyTo(NbdServer.builder().latencies(volume.latencies()).eventLoops(volume.eventLoops()).export(new NbdExport(name,
                    "nbdvault array " + volume.array().id(), volume.plaintext(), false))).start();
        } catch (Exception e) {
            volume.close();
            throw e;
        }
        String where = listen.describe(server, name, listen.tlsEnabled());
        String uri = where.split("  ")[where.split("  ").length - 1];
        String hint = volume.embedded() ? " — connect with: nbdinfo '" + uri + "' ; or nbdfuse DIR/disk '" + uri
                + "' & mkfs.ext4 DIR/disk && mount -o loop DIR/disk MNT (TCP only with --listen HOST:PORT)" : "";
        return ServeUntilSignalled.run(server, volume, "serving " + volume.describe() + " at " + where
                + "; admin socket " + volume.adminPath() + hint);
    }
}
