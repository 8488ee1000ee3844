package io.nbdvault.cli.replicated;

import com.fasterxml.jackson.databind.JsonNode;
import io.nbdvault.cli.NbdvaultProcess;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `status` shows where time goes: latency per layer (NBD front, encryption, array, each replica). */
@Timeout(180)
class LayerLatencyStatusTest {
    @TempDir
    Path dir;
    NbdkitReplicas replicas;

    @AfterEach
    void stop() throws Exception {
        if (replicas != null) {
            replicas.close();
        }
    }

    static JsonNode layer(JsonNode status, String layer, String type) {
        for (JsonNode l : status.path("layers")) {
            if (l.path("layer").asText().equals(layer) && l.path("type").asText().equals(type)) {
                return l;
            }
        }
        return null;
    }

    @Test
    void statusShowsEveryLayerAndTheSlowReplicaExplainsTheFrontsWriteLatency() throws Exception {
        // One replica 20 ms slow on writes: every write waits for every copy, so the front's writes
        // take at least that long too, while the fast replicas' writes stay far below it.
        replicas = new NbdkitReplicas(dir, 3, false).withFilter(2, "--filter=delay", "delay-write=20ms").startAll();
        Path key = dir.resolve("key");
        Files.writeString(key, "layer passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = NbdvaultProcess.start(dir, "serve", "--key-file", key.toString(), "--socket",
                nbdSocket.toString(), replicas.uri(0), replicas.uri(1), replicas.uri(2))
                .awaitSocket(nbdSocket, Duration.ofSeconds(60))) {
            for (String rw : List.of("write", "read")) {
                Proc.run(120, null, List.of(ExternalTool.require("fio"), "--name=layers", "--ioengine=nbd",
                        "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=rand" + rw, "--bs=64k", "--iodepth=4",
                        "--size=8M", "--io_size=4M")).assertOk();
            }
            String json = ReplicatedServeTest.cli("status", "--admin-socket", nbdSocket + ".admin", "--json");
            JsonNode status = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
            for (String name : List.of("nbd", "encryption", "array")) {
                for (String type : List.of("read", "write")) {
                    JsonNode l = layer(status, name, type);
                    assertNotNull(l, name + " " + type + " in\n" + json);
                    assertTrue(l.path("requests").asLong() >= 64, name + " " + type + " counted every request:\n" + json);
                    assertTrue(l.path("p50Micros").asLong() > 0 && l.path("p99Micros").asLong() >= l.path("p50Micros").asLong()
                            && l.path("p999Micros").asLong() >= l.path("p99Micros").asLong(), json);
                }
            }
            for (int i = 0; i < 3; i++) {
                JsonNode r = layer(status, "replica " + replicas.uri(i), "all");
                assertNotNull(r, "replica " + i + " in\n" + json);
                assertTrue(r.path("requests").asLong() > 0, json);
            }
            long frontWrite = layer(status, "nbd", "write").path("p50Micros").asLong();
            long slowReplica = layer(status, "replica " + replicas.uri(2), "all").path("p99Micros").asLong();
            long fastReplica = layer(status, "replica " + replicas.uri(0), "all").path("p50Micros").asLong();
            assertTrue(frontWrite >= 18_000 && slowReplica >= 18_000 && fastReplica < 18_000,
                    "the delayed replica shows in the front's writes and only in its own row:\n" + json);
            // The front's time (request read to reply written) holds the encryption layer's, request by request.
            for (String type : List.of("read", "write")) {
                assertTrue(layer(status, "nbd", type).path("meanMicros").asLong()
                        >= layer(status, "encryption", type).path("meanMicros").asLong(), json);
            }
            // Layers are listed top-down.
            String order = status.path("layers").toString();
            assertTrue(order.indexOf("\"nbd\"") < order.indexOf("\"encryption\"")
                    && order.indexOf("\"encryption\"") < order.indexOf("\"array\""), json);
            // The server runs as the launcher starts it, on this JDK: it takes the mask path this JVM takes.
            assertEquals(io.nbdvault.crypto.xts.AesXts.maskPath(), status.path("xtsMaskPath").asText(), json);
            // And the bulk AES this machine's JVM picks (OpenSSL's where the JDK's runs one block per call).
            assertEquals(io.nbdvault.crypto.aes.AesEngine.describe(), status.path("aesEngine").asText(), json);
            // And the integrity MAC's passes this JVM runs (the array has tags by default): the Vector
            // API's on JDK 25+ with its module and C2, as the server runs, long by long elsewhere.
            assertTrue(status.path("geometry").path("integrityBlock").asInt() > 0, json);
            String passes = status.path("integrityPasses").asText();
            assertTrue(io.nbdvault.crypto.VectorApi.runsWell() ? passes.matches("vector \\(\\d+-bit\\)") : passes.equals("scalar"),
                    "JDK " + Runtime.version().feature() + ": " + json);
            // And the socket transport this kernel allows (io_uring where it may, else epoll).
            String transport = io.nbdvault.nbd.server.SocketTransport.chosen().toString();
            assertEquals(transport, status.path("socketTransport").asText(), json);
            // And this JDK, named as `--version` names it.
            assertEquals(io.nbdvault.cli.VersionProvider.javaRuntime(), status.path("javaRuntime").asText(), json);
            // The allocator's holdings after all that I/O, and the leak detector's level NbdvaultProcess asks for.
            assertTrue(status.path("bufferDirectBytes").asLong() + status.path("bufferHeapBytes").asLong() > 0, json);
            assertEquals("advanced", status.path("leakDetection").asText(), json);
            String text = ReplicatedServeTest.cli("status", "--admin-socket", nbdSocket + ".admin");
            assertTrue(text.contains("Latency by layer") && text.matches("(?s).*\\nencryption\\s+write\\s+\\d+.*"), text);
            assertTrue(text.contains("XTS masks  : " + io.nbdvault.crypto.xts.AesXts.maskPath()), text);
            assertTrue(text.contains("AES        : " + io.nbdvault.crypto.aes.AesEngine.describe()), text);
            assertTrue(text.contains("Sockets    : " + transport), text);
            assertTrue(text.contains("-byte block, " + passes + " passes"), text);
            assertTrue(text.contains("Runtime    : Java " + Runtime.version() + " ("), text);
            assertTrue(text.contains("Buffers    : ") && text.contains("leak detection advanced"), text);
            server.terminate(Duration.ofSeconds(60));
        }
    }
}
