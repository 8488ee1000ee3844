package io.nbdvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nbdvault.cli.admin.AdminClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Follows one member's resync through the admin socket and draws a progress bar on stderr (a
 * line every 10 % when stderr is not a terminal), until the member is active or has failed.
 */
final class ResyncProgress {
    private static final int WIDTH = 30;
    private static final double MIB = 1 << 20;

    private ResyncProgress() {
    }

    /** Returns 0 when the member ends active, 1 when its resync failed. */
    static int follow(Path socket, String member, PrintStream out) throws IOException, InterruptedException {
        boolean terminal = System.console() != null;
        long start = System.nanoTime();
        int lastDecile = -1;
        while (true) {
            JsonNode m = find(AdminClient.command(socket, "status").path("status"), member);
            String state = m.path("state").asText();
            long done = m.path("syncedBytes").asLong();
            long total = Math.max(1, m.path("syncTotalBytes").asLong());
            double seconds = Math.max(1e-3, (System.nanoTime() - start) / 1e9);
            String line = bar(done, total, done / seconds);
            int decile = (int) (10 * done / total);
            if (terminal) {
                out.print("\r" + line);
            } else if (decile != lastDecile) {
                out.println(line);
                lastDecile = decile;
            }
            if (state.equals("active")) {
                out.println((terminal ? "\n" : "") + "nbdvault: " + member + " is in sync (" + done + " bytes copied)");
                return 0;
            }
            if (state.equals("failed") || state.equals("missing")) {
                out.println((terminal ? "\n" : "") + "nbdvault: the resync of " + member + " failed; see the server's log");
                return 1;
            }
            Thread.sleep(250);
        }
    }

    static String bar(long done, long total, double bytesPerSecond) {
        int filled = (int) (WIDTH * done / total);
        double remaining = bytesPerSecond > 0 ? (total - done) / bytesPerSecond : 0;
        return String.format("[%s%s] %3d%%  %.1f/%.1f MiB  %.1f MiB/s  eta %ds", "#".repeat(filled), "-".repeat(WIDTH - filled),
                100 * done / total, done / MIB, total / MIB, bytesPerSecond / MIB, (long) remaining);
    }

    private static JsonNode find(JsonNode status, String member) throws IOException {
        for (JsonNode m : status.path("members")) {
            if (m.path("name").asText().equals(member)) {
                return m;
            }
        }
        throw new IOException("the array has no member named '" + member + "'");
    }
}
