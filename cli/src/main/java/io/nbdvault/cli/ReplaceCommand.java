package io.nbdvault.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdvault.cli.admin.AdminClient;
import io.nbdvault.transport.ReplicaUri;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault replace OLD NEW}: put a new replica in a member's place and rebuild it online. */
@Command(name = "replace", mixinStandardHelpOptions = true,
        description = {"Replace a member of the running volume with a new replica, rebuilt in full while the volume",
                "stays in use. The old member leaves the array at once; the new one serves reads when the rebuild is done."})
public final class ReplaceCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--rate", paramLabel = "SIZE", converter = SizeConverter.ZeroAllowed.class,
            description = "Rebuild at most this many bytes per second (default 200M, md's speed_limit_max; 0: unlimited).")
    long rate = 200L << 20;

    @Option(names = "--force", description = "Overwrite NEW even if it holds another volume (nbdvault or LUKS metadata).")
    boolean force;

    @Option(names = "--no-wait", description = "Return once the rebuild has started instead of following it.")
    boolean noWait;

    @Parameters(index = "0", paramLabel = "OLD", description = "The member to replace, as given to serve (or its UUID).")
    String oldMember;

    @Parameters(index = "1", paramLabel = "NEW", description = "The new replica: a file, block device, nbd://, nbd+unix:// or iscsi:// URI.")
    String newMember;

    @Override
    public Integer call() throws Exception {
        AdminClient.call(admin.socket(), new ObjectMapper().createObjectNode().put("command", "replace")
                .put("member", oldMember).put("with", newMember).put("rate", rate).put("force", force));
        // Members go by their names without secrets (user:***@host): so does what is printed and followed.
        String shown = ReplicaUri.redact(newMember);
        System.err.println("nbdvault: rebuilding " + shown + " in place of " + ReplicaUri.redact(oldMember));
        return noWait ? 0 : ResyncProgress.follow(admin.socket(), shown, System.err);
    }
}
