package io.nbdvault.cli.replicated;

import io.nbdvault.cli.FuseDisk;
import io.nbdvault.cli.Main;
import io.nbdvault.cli.NbdvaultProcess;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replicated, encrypted volume over real nbdkit replicas, while they fail in various ways. */
@Timeout(300)
class ReplicatedServeTest {
    static final long MIB = 1 << 20;
    static final Pattern COPIED = Pattern.compile("(\\S+) is in sync \\((\\d+) bytes copied(, from the write-intent bitmap)?\\)");

    @TempDir
    Path dir;
    NbdkitReplicas replicas;
    final List<Process> background = new ArrayList<>();

    @AfterEach
    void stopReplicas() throws Exception {
        // fio forks its jobs: a test that failed midway must not leave one spinning after it.
        for (Process p : background) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        if (replicas != null) {
            replicas.close();
        }
    }

    /** Starts a command in the background, output to {@code log}; it is killed with its children after the test. */
    Process inBackground(List<String> command, Path log) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        background.add(p);
        return p;
    }

    Path key(String passphrase) throws Exception {
        Path key = dir.resolve("key");
        Files.writeString(key, passphrase);
        return key;
    }

    NbdvaultProcess serve(Path key, Path nbdSocket, List<String> members) throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", nbdSocket.toString(),
                "--timeout", "1500", "--bitmap-delay", "1"));
        args.addAll(members);
        return NbdvaultProcess.start(dir, args.toArray(String[]::new)).awaitSocket(nbdSocket, Duration.ofSeconds(60));
    }

    List<String> fio(Path nbdSocket, String... extra) {
        List<String> cmd = new ArrayList<>(List.of(ExternalTool.require("fio"), "--name=chaos", "--ioengine=nbd",
                "--uri=nbd+unix:///?socket=" + nbdSocket, "--rw=randwrite", "--bs=4k", "--iodepth=16",
                "--size=48M", "--verify=crc32c", "--verify_fatal=1", "--randseed=42", "--verify_state_save=0"));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    static String admin(Path nbdSocket) {
        return nbdSocket + ".admin";
    }

    static com.fasterxml.jackson.databind.JsonNode status(Path nbdSocket) throws Exception {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(cli("status", "--admin-socket", admin(nbdSocket), "--json"));
    }

    /** The state `status` reports for the member named {@code uri}. */
    static String memberState(com.fasterxml.jackson.databind.JsonNode status, String uri) {
        for (com.fasterxml.jackson.databind.JsonNode m : status.path("members")) {
            if (m.path("name").asText().equals(uri)) {
                return m.path("state").asText();
            }
        }
        return "absent";
    }

    /** Polls `status --json` until {@code ok} holds (120 s at most); returns that status. */
    static com.fasterxml.jackson.databind.JsonNode awaitStatus(Path nbdSocket,
            java.util.function.Predicate<com.fasterxml.jackson.databind.JsonNode> ok, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            com.fasterxml.jackson.databind.JsonNode s = status(nbdSocket);
            if (ok.test(s)) {
                return s;
            }
            assertTrue(System.nanoTime() < deadline, what + ":\n" + s.toPrettyString());
            Thread.sleep(100);
        }
    }

    static void awaitMemberState(Path nbdSocket, String uri, String state) throws Exception {
        awaitStatus(nbdSocket, s -> memberState(s, uri).equals(state), uri + " is " + state);
    }

    /**
     * Waits until the array is active with at least {@code count} members brought up to date by a
     * finished resync in this process; returns member → bytes copied. With {@code fromBitmap}, each
     * of those resyncs copied only part of the member (the bitmap's regions), not all of it.
     */
    static java.util.Map<String, Long> awaitResyncs(Path nbdSocket, int count, boolean fromBitmap) throws Exception {
        com.fasterxml.jackson.databind.JsonNode s = awaitStatus(nbdSocket, st -> {
            if (!st.path("state").asText().equals("ACTIVE")) {
                return false;
            }
            int done = 0;
            for (com.fasterxml.jackson.databind.JsonNode m : st.path("members")) {
                long total = m.path("syncTotalBytes").asLong();
                done += total > 0 && m.path("syncedBytes").asLong() == total ? 1 : 0;
            }
            return done >= count;
        }, count + " resyncs completed");
        long whole = s.path("geometry").path("dataSize").asLong() / s.path("geometry").path("groups").asLong();
        java.util.Map<String, Long> copied = new java.util.LinkedHashMap<>();
        for (com.fasterxml.jackson.databind.JsonNode m : s.path("members")) {
            long total = m.path("syncTotalBytes").asLong();
            if (total > 0) {
                copied.put(m.path("name").asText(), m.path("syncedBytes").asLong());
                if (fromBitmap) {
                    assertTrue(total < whole, "resync of " + m.path("name").asText() + " used the bitmap:\n" + s.toPrettyString());
                }
            }
        }
        return copied;
    }

    @Test
    void survivesKilledAndStoppedReplicasAndResyncsThem() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("chaos passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2), "--copies", "3");
        Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                replicas.image(0).toString()).assertOk();

        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            // Writes with verification while replica 1 is killed outright.
            Process writer = inBackground(fio(nbdSocket, "--rate=24m"), dir.resolve("fio1.log"));
            Thread.sleep(700);
            replicas.kill(1);
            assertTrue(writer.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio1.log")) + server.stderr());
            String status = cli("status", "--admin-socket", admin(nbdSocket));
            assertTrue(status.contains("State      : degraded"), status);
            assertTrue(status.matches("(?s).*\\bfailed\\s.*r1\\.sock.*"), status);
            assertTrue(status.matches("(?s).*\\bactive\\s.*r0\\.sock.*"), status);

            // Replica 2 hangs (SIGSTOP): it is failed within the timeout and the volume carries on with one copy.
            replicas.signal(2, "STOP");
            Proc.Result verify = Proc.run(120, null, fio(nbdSocket, "--do_verify=1", "--verify_only")).assertOk();
            assertTrue(verify.stdout().contains("err= 0"), verify.stdout());
            assertEquals("failed", memberState(status(nbdSocket), replicas.uri(2)));
            int code = server.terminate(Duration.ofSeconds(60));
            assertTrue(code == 0 || code == 143, server.stderr());
        }

        // Both come back: assembly sees they are stale and resynchronises them from replica 0.
        replicas.signal(2, "CONT");
        // nbdkit 1.32 can abort right after SIGCONT when its clients gave up meanwhile
        // (connections.c: raw_send_socket: Assertion `sock >= 0'); then it is restarted, as an operator would.
        Thread.sleep(500);
        if (!replicas.process(2).isAlive()) {
            replicas.start(2);
        }
        replicas.start(1);
        replicas.awaitServing(2);
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            awaitResyncs(nbdSocket, 2, true);
            Proc.run(120, null, fio(nbdSocket, "--do_verify=1", "--verify_only")).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
        assertReplicasEqual(0, 1, 2);
    }

    /** Waits until the idle bitmap regions have been cleared (a few bitmap delays after the last write). */
    static void awaitBitmapClean(Path nbdSocket) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String status;
        while (!(status = cli("status", "--admin-socket", admin(nbdSocket))).contains("Bitmap     : 0 dirty")) {
            assertTrue(System.nanoTime() < deadline, "bitmap cleared while idle:\n" + status);
            Thread.sleep(200);
        }
    }

    /** Every copy holds the same bytes (what `scrub` reports as 0 mismatches), read from the images themselves. */
    void assertReplicasEqual(int... which) throws Exception {
        byte[] first = readPrefix(replicas.image(which[0]), 80 * MIB);
        for (int i = 1; i < which.length; i++) {
            assertTrue(java.util.Arrays.equals(first, readPrefix(replicas.image(which[i]), 80 * MIB)),
                    "replica " + which[i] + " equals replica " + which[0]);
        }
    }

    @Test
    void erroringReplicaIsTakenBackFromTheBitmapAndASlowOneStaysInService() throws Exception {
        Path trigger = dir.resolve("inject-errors");
        replicas = new NbdkitReplicas(dir, 3, false)
                .withFilter(1, "--filter=delay", "delay-write=15ms", "delay-read=15ms")
                .withFilter(2, "--filter=error", "error-rate=100%", "error-file=" + trigger)
                .startAll();
        Path key = key("fault passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2), "--bitmap-chunk", "1M");
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            Proc.run(120, null, fio(nbdSocket, "--bs=64k")).assertOk();

            awaitBitmapClean(nbdSocket);
            // Replica 2 starts returning EIO (nbdkit's error filter) while a small region is rewritten.
            Files.createFile(trigger);
            // (Repeated options override the earlier ones within the same fio job.)
            List<String> smallJob = fio(nbdSocket, "--offset=8M", "--size=4M", "--randseed=7");
            Proc.run(120, null, smallJob).assertOk();
            awaitMemberState(nbdSocket, replicas.uri(2), "failed");
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).matches("(?s).*\\bfailed\\s.*r2\\.sock.*"));

            // It heals: the server probes it, takes it back and copies only the regions written meanwhile.
            Files.delete(trigger);
            long copied = awaitResyncs(nbdSocket, 1, true).get(replicas.uri(2));
            assertTrue(copied > 0 && copied <= 8 * MIB, "a 4 MiB rewrite costs at most a few 1 MiB regions of 80 MiB, not "
                    + copied + " bytes");

            List<String> verifySmall = new ArrayList<>(smallJob);
            verifySmall.addAll(List.of("--do_verify=1", "--verify_only"));
            Proc.run(120, null, verifySmall).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());

            // The slow replica was never failed: it is just slow, and its latencies show it.
            String json = cli("status", "--admin-socket", admin(nbdSocket), "--json");
            com.fasterxml.jackson.databind.JsonNode status = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
            assertEquals("ACTIVE", status.path("state").asText(), json);
            com.fasterxml.jackson.databind.JsonNode slow = status.path("members").get(1);
            com.fasterxml.jackson.databind.JsonNode fast = status.path("members").get(0);
            assertTrue(slow.path("p50Micros").asLong() >= 10_000 && fast.path("p50Micros").asLong() < 10_000, json);
            server.terminate(Duration.ofSeconds(60));
        }
        assertReplicasEqual(0, 1, 2);
    }

    @Test
    void aMemberReplacedUnderLoadIsRebuiltAndOpensWithCryptsetup() throws Exception {
        replicas = new NbdkitReplicas(dir, 4, false).startAll();
        Path key = key("replace passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            Process writer = inBackground(fio(nbdSocket, "--rate=8m"), dir.resolve("fio.log"));
            Thread.sleep(500);
            java.io.ByteArrayOutputStream progress = new java.io.ByteArrayOutputStream();
            java.io.PrintStream oldErr = System.err;
            int code;
            try {
                System.setErr(new java.io.PrintStream(progress, true));
                code = Main.run("replace", "--admin-socket", admin(nbdSocket), "--rate", "40M", replicas.uri(1), replicas.uri(3));
            } finally {
                System.setErr(oldErr);
            }
            assertEquals(0, code, progress.toString());
            assertTrue(progress.toString().contains("100%"), progress.toString());
            assertEquals("active", memberState(status(nbdSocket), replicas.uri(3)), "replace returns once the rebuild is done");
            assertTrue(writer.isAlive(), "the rebuild ran while fio was writing");
            assertTrue(writer.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio.log")) + server.stderr());
            String status = cli("status", "--admin-socket", admin(nbdSocket));
            assertTrue(status.contains("State      : active") && status.matches("(?s).*\\bactive\\s.*r3\\.sock.*")
                    && !status.contains("r1.sock"), status);
            Proc.run(120, null, fio(nbdSocket, "--do_verify=1", "--verify_only")).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
        // The new member is, alone, a LUKS2 volume that cryptsetup opens; the array assembles with it.
        Proc.run(60, ExternalTool.require("cryptsetup"), "open", "--test-passphrase", "--key-file", key.toString(),
                replicas.image(3).toString()).assertOk();
        assertReplicasEqual(0, 2, 3);
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 3, 2))) {
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("State      : active"));
            Proc.run(120, null, fio(nbdSocket, "--do_verify=1", "--verify_only")).assertOk();
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void killedNbdvaultLosesNoAcknowledgedWriteOverTcpReplicas() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, true).startAll();
        Path key = key("crash passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2), "--bitmap-chunk", "1M");
        String qemuIo = ExternalTool.require("qemu-io");
        Path nbdSocket = dir.resolve("vol.sock");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        int acknowledged = 0;
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            for (int i = 1; i <= 12; i++) {
                Proc.Result r = Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P " + i + " " + i + "M 1M", "-c", "flush", volume);
                if (r.exitCode() == 0) {
                    acknowledged = i;
                }
                if (i == 8) {
                    server.signal("KILL");
                    server.waitFor(Duration.ofSeconds(30));
                }
            }
        }
        assertEquals(8, acknowledged, "writes after the crash fail, the ones before were acknowledged");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            // Only the regions marked in the bitmap (about the 8 MiB written) are compared and copied.
            for (long copied : awaitResyncs(nbdSocket, 2, true).values()) {
                assertTrue(copied <= 24 * MIB, "crash resync copied " + copied + " bytes of 80 MiB:\n" + server.stderr());
            }
            for (int i = 1; i <= acknowledged; i++) {
                Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P " + i + " " + i + "M 1M", volume).assertOk();
            }
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void unreachableMemberAtStartupJoinsWhenItAnswersAndAFailedOneIsReAdded() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("degraded passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        replicas.kill(2);
        Path nbdSocket = dir.resolve("vol.sock");
        String qemuIo = ExternalTool.require("qemu-io");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            com.fasterxml.jackson.databind.JsonNode degraded = status(nbdSocket);
            assertEquals("DEGRADED", degraded.path("state").asText(), degraded.toPrettyString());
            assertEquals(List.of("active", "active", "missing"), java.util.stream.StreamSupport.stream(
                    degraded.path("members").spliterator(), false).map(m -> m.path("state").asText()).toList());
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 5 0 1M", "-c", "read -P 5 0 1M", volume).assertOk();

            // The missing replica comes back: the running server finds its place and brings it up to date.
            replicas.start(2);
            awaitResyncs(nbdSocket, 1, true);
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("State      : active"));

            // An administrator fails one: it stays out (no automatic return) until re-added.
            cli("fail", "--admin-socket", admin(nbdSocket), replicas.uri(1));
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 6 2M 1M", volume).assertOk();
            Thread.sleep(3000);
            String status = cli("status", "--admin-socket", admin(nbdSocket), "--json");
            assertTrue(status.contains("\"state\" : \"DEGRADED\"") && status.contains("\"failed\""), status);
            cli("re-add", "--admin-socket", admin(nbdSocket), replicas.uri(1));
            awaitResyncs(nbdSocket, 2, true);
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("State      : active"));
            Proc.run(60, qemuIo, "-f", "raw", "-r", "-c", "read -P 5 0 1M", "-c", "read -P 6 2M 1M", volume).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void aSecondServerOnTheSameNetworkReplicasIsRefused() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("lease passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            Path other = dir.resolve("other.sock");
            List<String> args = new ArrayList<>(List.of("serve", "--key-file", key.toString(), "--socket", other.toString()));
            args.addAll(replicas.uris(0, 1, 2));
            NbdvaultProcess second = NbdvaultProcess.start(dir, args.toArray(String[]::new));
            assertTrue(second.waitFor(Duration.ofSeconds(60)) != 0, "the replicas' lease is held by the first server");
            assertEquals("ACTIVE", status(nbdSocket).path("state").asText(), "the first server is undisturbed");
            server.terminate(Duration.ofSeconds(60));
        }
        // Given up on shutdown: the volume serves again at once.
        try (NbdvaultProcess again = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            again.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void losingEveryReplicaForAFewSecondsCostsTheClientNoError() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("outage passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2), "--bitmap-chunk", "1M");
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            Process writer = inBackground(fio(nbdSocket, "--rate=8m", "--size=32M"), dir.resolve("fio.log"));
            Thread.sleep(1000);
            replicas.kill(0);
            replicas.kill(1);
            replicas.kill(2);
            awaitStatus(nbdSocket, st -> st.path("state").asText().equals("FAILED") && st.path("queuedRequests").asLong() > 0,
                    "requests wait while every replica is gone");
            Thread.sleep(2000);
            replicas.start(0);
            replicas.start(1);
            replicas.start(2);
            assertTrue(writer.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, writer.exitValue(), Files.readString(dir.resolve("fio.log")) + server.stderr());
            awaitStatus(nbdSocket, st -> st.path("state").asText().equals("ACTIVE") && st.path("queuedRequests").asLong() == 0,
                    "every replica back");
            Proc.run(120, null, fio(nbdSocket, "--size=32M", "--do_verify=1", "--verify_only")).assertOk();
            assertEquals("mismatches: 0", cli("scrub", "--admin-socket", admin(nbdSocket)).trim());
            server.terminate(Duration.ofSeconds(60));
        }
        assertReplicasEqual(0, 1, 2);
    }

    @Test
    void shutdownWithEveryReplicaGoneDoesNotWaitOutTheQueueTimeout() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("shutdown passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> args = new ArrayList<>(List.of("--queue-timeout", "120"));
        args.addAll(replicas.uris(0, 1, 2));
        try (NbdvaultProcess server = serve(key, nbdSocket, args)) {
            replicas.kill(0);
            replicas.kill(1);
            replicas.kill(2);
            awaitStatus(nbdSocket, st -> st.path("state").asText().equals("FAILED"), "every copy failed");
            // Nothing is in flight: SIGTERM must not wait for a copy to come back (the flush on the way
            // out went through the outage queue and waited the whole --queue-timeout).
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void oneMemberIsEnoughToFindTheOthers() throws Exception {
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("scan passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(1))) {
            com.fasterxml.jackson.databind.JsonNode s = awaitStatus(nbdSocket,
                    st -> st.path("state").asText().equals("ACTIVE"), "all three members assembled from one");
            for (int i = 0; i < 3; i++) {
                assertEquals("active", memberState(s, replicas.uri(i)), s.toPrettyString());
            }
            server.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void replicasOverTlsLinks() throws Exception {
        Path pki = io.nbdvault.testing.Certificates.make(dir);
        replicas = new NbdkitReplicas(dir, 3, true).withTls(pki).startAll();
        Path key = key("tls passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        String ca = pki.resolve("ca-cert.pem").toString();
        List<String> members = new ArrayList<>(List.of("--replica-ca", ca));
        members.addAll(replicas.uris(0, 1, 2));
        String qemuIo = ExternalTool.require("qemu-io");
        String volume = "nbd+unix:///?socket=" + nbdSocket;
        try (NbdvaultProcess server = serve(key, nbdSocket, members)) {
            assertTrue(cli("status", "--admin-socket", admin(nbdSocket)).contains("State      : active"));
            Proc.run(60, qemuIo, "-f", "raw", "-c", "write -P 9 1M 2M", "-c", "flush", "-c", "read -P 9 1M 2M", volume)
                    .assertOk();
            server.terminate(Duration.ofSeconds(60));
        }
        // The plaintext never crossed the links: the replicas hold ciphertext, and it equals on all three.
        assertReplicasEqual(0, 1, 2);
        // Without the CA the links are refused (no silent fallback to plaintext).
        NbdvaultProcess refused = NbdvaultProcess.start(dir, "serve", "--key-file", key.toString(), "--socket",
                nbdSocket.toString(), replicas.uri(0), replicas.uri(1), replicas.uri(2));
        assertTrue(refused.waitFor(Duration.ofSeconds(60)) != 0 && refused.stderr().contains("--replica-ca"), refused.stderr());
    }

    @Test
    void ext4OnTheReplicatedVolumeSurvivesALostReplicaAndARestart() throws Exception {
        ExternalTool.requireRoot("mount -o loop and FUSE");
        replicas = new NbdkitReplicas(dir, 3, false).startAll();
        Path key = key("ext4 passphrase");
        replicas.createArray(key, replicas.uris(0, 1, 2));
        Path nbdSocket = dir.resolve("vol.sock");
        List<String> sums;
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(0, 1, 2))) {
            try (FuseDisk disk = FuseDisk.attach(dir, "nbd+unix:///?socket=" + nbdSocket)) {
                disk.mkfs();
                disk.mount(false);
                sums = FuseDisk.writeFiles(disk.mountPoint(), 6, 21);
                Proc.run(60, "sync").assertOk();
                replicas.kill(0);
                // Written after the loss, on the two copies left.
                Files.write(disk.mountPoint().resolve("after-loss"), new byte[3 << 20]);
                disk.umount();
                disk.assertClean();
            }
            server.terminate(Duration.ofSeconds(60));
        }
        // Restart without the lost replica: the file system is intact on the two survivors.
        try (NbdvaultProcess server = serve(key, nbdSocket, replicas.uris(1, 2))) {
            try (FuseDisk disk = FuseDisk.attach(dir, "nbd+unix:///?socket=" + nbdSocket)) {
                disk.assertClean();
                disk.mount(true);
                FuseDisk.assertFiles(disk.mountPoint(), sums);
                assertEquals(3 << 20, Files.size(disk.mountPoint().resolve("after-loss")));
                disk.umount();
            }
            server.terminate(Duration.ofSeconds(60));
        }
    }

    /** Runs a CLI command in-process and returns what it printed; fails unless it exits 0. */
    static String cli(String... args) {
        java.io.PrintStream old = System.out;
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new java.io.PrintStream(out, true));
            code = Main.run(args);
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code, String.join(" ", args) + " printed: " + out);
        return out.toString();
    }

    static byte[] readPrefix(Path file, long n) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] out = new byte[(int) n];
            f.readFully(out);
            return out;
        }
    }
}
