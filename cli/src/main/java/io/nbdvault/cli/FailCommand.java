package io.nbdvault.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdvault.cli.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code nbdvault fail MEMBER}: take a replica out of service in the running server (like `mdadm --fail`). */
@Command(name = "fail", mixinStandardHelpOptions = true,
        description = "Mark a member of the running volume as failed; it stays out until resynchronised.")
public final class FailCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--force", description = "Fail it even if it is the last up-to-date copy of its group (the volume stops).")
    boolean force;

    @Parameters(paramLabel = "MEMBER", description = "The member as it was given to serve.")
    String member;

    @Override
    public Integer call() throws Exception {
        AdminClient.call(admin.socket(), new ObjectMapper().createObjectNode().put("command", "fail").put("member", member)
                .put("force", force));
        System.err.println("nbdvault: " + member + " marked failed");
        return 0;
    }
}
