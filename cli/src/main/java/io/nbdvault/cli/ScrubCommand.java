package io.nbdvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nbdvault.cli.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code nbdvault scrub [--repair]}: compare every copy of the running volume (like md's check/repair). */
@Command(name = "scrub", mixinStandardHelpOptions = true,
        description = "Compare the copies of the running volume; with --repair make them agree with the majority.")
public final class ScrubCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--repair", description = "Rewrite mismatched regions from the content most copies agree on (on a tie, the first copy's).")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        JsonNode reply = AdminClient.call(admin.socket(),
                new ObjectMapper().createObjectNode().put("command", "scrub").put("repair", repair));
        long found = reply.path("mismatches").asLong();
        System.out.println("mismatches: " + found + (repair && found > 0 ? " (repaired)" : ""));
        return 0;
    }
}
