package io.nbdvault.bench.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nbdvault.cli.admin.AdminClient;

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the chaos report knows of the server's state: `status` from the admin socket, polled.
 *
 * <pre>
 * watch --admin SOCKET --out FILE [--interval-ms 50]
 *     appends a JSON line whenever the state changes: {"t": epoch ms, "state": ACTIVE|DEGRADED|FAILED|DOWN,
 *     "healthy": every member active, "members": [...states], "queued": n, "resynced": bytes copied by
 *     resyncs so far}; DOWN while the admin socket does not answer. Runs until killed.
 * summary --timeline FILE --since EPOCH_MS
 *     prints "DETECT_MS DEGRADED_MS RESYNCED_BYTES" for what happened after EPOCH_MS: the time until
 *     the first unhealthy line (-1: never), the time spent unhealthy, and the bytes resynchronised
 *     (by resyncs that ran after it).
 * </pre>
 */
public final class StatusTimeline {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StatusTimeline() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 1; i + 1 < args.length; i += 2) {
            o.put(args[i], args[i + 1]);
        }
        switch (args.length == 0 ? "" : args[0]) {
            case "watch" -> watch(Path.of(o.get("--admin")), Path.of(o.get("--out")),
                    Long.parseLong(o.getOrDefault("--interval-ms", "50")));
            case "summary" -> summary(Path.of(o.get("--timeline")), Long.parseLong(o.get("--since")));
            default -> {
                System.err.println("usage: StatusTimeline watch --admin SOCKET --out FILE | summary --timeline FILE --since MS");
                System.exit(2);
            }
        }
    }

    static void watch(Path admin, Path out, long intervalMillis) throws Exception {
        // Bytes copied by each member's resyncs: a member's syncedBytes belongs to its current or last
        // resync, so a new resync (or a restarted server) starts from zero and the last one is banked.
        Map<String, Long> banked = new HashMap<>();
        Map<String, Long> current = new HashMap<>();
        String last = null;
        try (BufferedWriter w = Files.newBufferedWriter(out, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            while (true) {
                ObjectNode line = JSON.createObjectNode();
                JsonNode s = null;
                try {
                    s = AdminClient.command(admin, "status").path("status");
                } catch (Exception down) {
                    // the server is gone or restarting
                }
                if (s == null) {
                    line.put("state", "DOWN").put("healthy", false);
                    current.forEach((m, v) -> banked.merge(m, v, Long::sum));
                    current.clear();
                } else {
                    boolean healthy = s.path("state").asText().equals("ACTIVE");
                    ArrayNode members = line.put("state", s.path("state").asText()).putArray("members");
                    for (JsonNode m : s.path("members")) {
                        String name = m.path("name").asText();
                        String state = m.path("state").asText();
                        members.add(state);
                        healthy &= state.equals("active");
                        long synced = m.path("syncedBytes").asLong();
                        Long before = current.get(name);
                        if (before != null && synced < before) {
                            banked.merge(name, before, Long::sum);
                        }
                        current.put(name, synced);
                    }
                    line.put("healthy", healthy).put("queued", s.path("queuedRequests").asLong());
                }
                long resynced = 0;
                for (long v : banked.values()) {
                    resynced += v;
                }
                for (long v : current.values()) {
                    resynced += v;
                }
                line.put("resynced", resynced);
                String text = line.toString();
                if (!text.equals(last)) {
                    last = text;
                    ObjectNode stamped = JSON.createObjectNode().put("t", System.currentTimeMillis());
                    stamped.setAll(line);
                    w.write(stamped + "\n");
                    w.flush();
                }
                Thread.sleep(intervalMillis);
            }
        }
    }

    static void summary(Path timeline, long since) throws Exception {
        List<String> lines = Files.readAllLines(timeline);
        long detect = -1;
        long degraded = 0;
        long unhealthySince = -1;
        long resyncedBefore = -1;
        long resynced = 0;
        long lastT = since;
        for (String l : lines) {
            if (l.isBlank()) {
                continue;
            }
            JsonNode n = JSON.readTree(l);
            long t = n.path("t").asLong();
            boolean healthy = n.path("healthy").asBoolean();
            if (t < since) {
                resyncedBefore = n.path("resynced").asLong();
                unhealthySince = healthy ? -1 : since;
                continue;
            }
            if (resyncedBefore < 0) {
                resyncedBefore = 0;
            }
            resynced = n.path("resynced").asLong() - resyncedBefore;
            if (!healthy && detect < 0) {
                detect = t - since;
            }
            if (!healthy && unhealthySince < 0) {
                unhealthySince = t;
            } else if (healthy && unhealthySince >= 0) {
                degraded += t - unhealthySince;
                unhealthySince = -1;
            }
            lastT = t;
        }
        if (unhealthySince >= 0) {
            degraded += Math.max(lastT, System.currentTimeMillis()) - unhealthySince;
        }
        System.out.println(detect + " " + degraded + " " + Math.max(0, resynced));
    }
}
