package io.nbdvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdvault.cli.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault re-add MEMBER}: take a failed replica back (like `mdadm --re-add`), resyncing from the bitmap. */
@Command(name = "re-add", mixinStandardHelpOptions = true,
        description = {"Take a failed member of the running volume back into service.",
                "Only the regions written while it was away are copied, when the write-intent bitmap covers its absence."})
public final class ReAddCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--no-wait", description = "Return once the resync has started instead of following it.")
    boolean noWait;

    @Parameters(paramLabel = "MEMBER", description = "The member as it was given to serve.")
    String member;

    @Override
    public Integer call() throws Exception {
        JsonNode reply = AdminClient.call(admin.socket(),
                new ObjectMapper().createObjectNode().put("command", "re-add").put("member", member));
        System.err.println("nbdvault: re-adding " + member + (reply.path("bitmap").asBoolean()
                ? ": copying only the regions marked in the write-intent bitmap" : ": copying it in full"));
        return noWait ? 0 : ResyncProgress.follow(admin.socket(), member, System.err);
    }
}
