package io.nbdvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.nbdvault.cli.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code nbdvault status}: the running array in detail, like `mdadm --detail`. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show the state of a running replicated volume.")
public final class StatusCommand implements Callable<Integer> {
    @Mixin
    AdminOptions admin;

    @Option(names = "--json", description = "Print the raw JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JsonNode status = AdminClient.command(admin.socket(), "status").path("status");
        if (json) {
            System.out.println(status.toPrettyString());
            return 0;
        }
        JsonNode g = status.path("geometry");
        System.out.printf("Array UUID : %s%n", status.path("array").asText());
        System.out.printf("State      : %s%n", status.path("state").asText().toLowerCase());
        System.out.printf("Layout     : %d group(s) x %d copies, chunk %d bytes%n", g.path("groups").asInt(),
                g.path("copies").asInt(), g.path("chunkSize").asInt());
        System.out.printf("Size       : %d bytes%n", g.path("dataSize").asLong());
        System.out.printf("Events     : %d%n", status.path("events").asLong());
        int tagBlock = g.path("integrityBlock").asInt();
        System.out.printf("Integrity  : %s%n", tagBlock == 0 ? "none" : "pmac-aes256 tag per " + tagBlock + "-byte block"
                + (status.hasNonNull("integrityPasses") ? ", " + status.path("integrityPasses").asText() + " passes" : ""));
        System.out.printf("XTS masks  : %s%n", status.path("xtsMaskPath").asText("unknown"));
        System.out.printf("AES        : %s%n", status.path("aesEngine").asText("unknown"));
        System.out.printf("Sockets    : %s%n", status.path("socketTransport").asText("unknown"));
        System.out.printf("Runtime    : %s%n", status.path("javaRuntime").asText("unknown"));
        System.out.printf("Buffers    : %.1f MiB direct, %.1f MiB heap held by the allocator; leak detection %s%n",
                status.path("bufferDirectBytes").asLong() / 1048576.0, status.path("bufferHeapBytes").asLong() / 1048576.0,
                status.path("leakDetection").asText("unknown"));
        long dirty = 0;
        for (JsonNode d : status.path("dirtyRegions")) {
            dirty += d.asLong();
        }
        System.out.printf("Bitmap     : %d dirty region(s) of %d bytes%n", dirty, status.path("bitmapRegionSize").asLong());
        if (status.path("outageMillis").asLong() > 0 || status.path("queuedRequests").asLong() > 0) {
            System.out.printf("Outage     : no copy of some group for %d ms; %d request(s) waiting%n",
                    status.path("outageMillis").asLong(), status.path("queuedRequests").asLong());
        }
        System.out.println();
        System.out.printf("%-5s %-4s %-9s %-25s %9s %9s %9s %10s  %s%n", "group", "copy", "state", "resync (copied/total)",
                "p50 us", "p99 us", "p99.9 us", "requests", "member");
        for (JsonNode m : status.path("members")) {
            System.out.printf("%-5d %-4d %-9s %-25s %9d %9d %9d %10d  %s%n", m.path("group").asInt(), m.path("copy").asInt(),
                    m.path("state").asText(), m.path("syncedBytes").asLong() + "/" + m.path("syncTotalBytes").asLong(),
                    m.path("p50Micros").asLong(),
                    m.path("p99Micros").asLong(), m.path("p999Micros").asLong(), m.path("requests").asLong(),
                    m.path("name").asText());
        }
        for (JsonNode m : status.path("members")) {
            if (m.path("corruptBlocks").asLong() > 0) {
                System.out.printf("Bad blocks : %s returned %d block(s) that failed their integrity check; %d rewritten "
                        + "from a copy that verified%n", m.path("name").asText(), m.path("corruptBlocks").asLong(),
                        m.path("repairedBlocks").asLong());
            }
        }
        JsonNode layers = status.path("layers");
        if (!layers.isEmpty()) {
            System.out.println();
            System.out.println("Latency by layer (each includes the layers below it; lifetime of this process):");
            System.out.printf("%-36s %-13s %10s %9s %9s %9s %9s%n", "layer", "type", "requests", "p50 us", "p99 us",
                    "p99.9 us", "max us");
            for (JsonNode l : layers) {
                long max = l.path("maxMicros").asLong(-1);
                System.out.printf("%-36s %-13s %10d %9d %9d %9d %9s%n", l.path("layer").asText(), l.path("type").asText(),
                        l.path("requests").asLong(), l.path("p50Micros").asLong(), l.path("p99Micros").asLong(),
                        l.path("p999Micros").asLong(), max < 0 ? "-" : Long.toString(max));
            }
        }
        return 0;
    }
}
