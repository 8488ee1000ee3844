package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault export}: serve one target over NBD until interrupted. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Export a file, block device or memory:SIZE over NBD.",
                "This is also what a storage server runs to offer a replica."},
        footer = {"", "Examples:", "  nbdvault export memory:1G",
                "  nbdvault export --socket /run/disk.sock --name disk /srv/disk.img",
                "  nbdvault export --listen 0.0.0.0:10809 --tls-cert cert.pem --tls-key key.pem /dev/sdb"})
public final class ExportCommand implements Callable<Integer> {

    @Mixin
    ListenOptions listen;

    @Option(names = "--name", paramLabel = "NAME", description = "Export name (default: empty, the default export).")
    String name = "";

    @Option(names = "--description", paramLabel = "TEXT", description = "Description shown by nbdinfo.")
    String description;

    @Option(names = "--read-only", description = "Refuse writes.")
    boolean readOnly;

    @Parameters(paramLabel = "TARGET", description = "A file, a block device, or memory:SIZE (e.g. memory:1G).")
    String target;

    @Mixin
    KeyOptions key;

    @Option(names = "--encrypted", description = "TARGET is a LUKS volume: serve its plaintext (implied by --key-file/--key-fd;"
            + " without them the passphrase is prompted for).")
    boolean encrypted;

    @Override
    public Integer call() throws Exception {
        Logging.configure();
        BlockDevice raw = Targets.open(target, readOnly);
        OpenedVolume volume;
        NbdServer server;
        try {
            volume = encrypted || key.given() ? OpenedVolume.unlock(raw, key) : OpenedVolume.plain(raw);
        } catch (Exception e) {
            raw.close();
            throw e;
        }
        try {
            BlockDevice device = volume.device();
            server = listen.applyTo(NbdServer.builder()
                    .export(new NbdExport(name, description == null ? target : description, device, readOnly)))
                    .start();
        } catch (Exception e) {
            volume.close();
            throw e;
        }
        return ServeUntilSignalled.run(server, volume, "exporting " + target + " (" + volume.device().size() + " bytes"
                + (volume.encrypted() ? ", LUKS" + volume.luksVersion() + " decrypted" : "")
                + (readOnly ? ", read-only" : "") + ") at " + listen.describe(server, name, listen.tlsEnabled()));
    }
}
