package io.nbdvault.bench;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs {@code bench/run.sh --quick} so the benchmark scripts cannot rot: JMH, openssl, fio against
 * nbdkit and qemu-storage-daemon, the simulated lab and the scaling runs, the summary and gnuplot's
 * charts must all be produced. The numbers
 * are not checked (a seconds-long run on a busy machine says nothing about speed).
 */
class RunScriptQuickTest {
    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G'};

    @TempDir
    Path results;

    @Test
    @Timeout(360)
    void quickRunWritesRawDataSummaryAndCharts() throws Exception {
        for (String tool : List.of("fio", "nbdkit", "qemu-storage-daemon", "cryptsetup", "openssl", "gnuplot")) {
            ExternalTool.require(tool);
        }
        Path root = Path.of("").toAbsolutePath().getParent();
        Path cliJar = root.resolve("cli/target/nbdvault.jar");
        if (!Files.exists(cliJar)) {
            // The reactor packages the CLI before this module (`mvn verify`, or `mvn -pl bench -am verify`).
            String message = cliJar + " is not built: run the whole build, or mvn -pl bench -am verify";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            org.junit.jupiter.api.Assumptions.abort(message);
        }
        // JMH runs from this module's classes and dependencies: the shaded jar is made after the tests.
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path log = results.resolve("run.log");
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("bench/run.sh").toString(),
                "--quick", "--no-build", "--results", results.toString())
                .directory(root.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("BENCH_CLASSPATH", classpath);
        pb.environment().put("JAVA", Proc.thisJava());
        Process p = pb.start();
        try {
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                throw new AssertionError("bench/run.sh --quick did not finish in 300 s:\n" + Files.readString(log));
            }
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertEquals(0, p.exitValue(), "bench/run.sh --quick failed:\n" + output);

        List<Path> dated;
        try (Stream<Path> s = Files.list(results)) {
            dated = s.filter(Files::isDirectory).collect(Collectors.toList());
        }
        assertEquals(1, dated.size(), "one dated results directory: " + dated);
        Path out = dated.get(0);
        for (String name : List.of("env.txt", "summary.md", "openssl.txt", "openssl-cpu.txt", "jmh-xts.rep1.json",
                "xts-cputime.rep1.json")) {
            assertNonEmpty(out.resolve(name));
        }
        assertTrue(Files.readString(out.resolve("jmh-xts.rep1.json")).contains("XtsBenchmark.xtsEncrypt"));
        String cpuTime = Files.readString(out.resolve("xts-cputime.rep1.json"));
        assertTrue(cpuTime.contains("\"bytesPerCpuSecond\""), cpuTime);
        // The script measures the masks nbdvault computes: the same path as this JVM, which runs as nbdvault does.
        assertTrue(cpuTime.contains("\"maskPath\": \"" + io.nbdvault.crypto.xts.AesXts.maskPath() + "\""), cpuTime);
        // ... and on the AES engine nbdvault picks on this machine.
        String engine = io.nbdvault.crypto.aes.AesEngine.current().label();
        assertTrue(cpuTime.contains("\"aesEngine\": \"" + engine + "\""), cpuTime);
        // The ceiling of the XTS beside it: the AES/ECB of that same engine, in both benchmarks.
        assertTrue(cpuTime.contains("\"benchmark\": \"engineEcbCeiling\""), cpuTime);
        assertTrue(Files.readString(out.resolve("jmh-xts.rep1.json")).contains("XtsBenchmark.engineEcbCeiling"));
        // nbd-vs-nbdkit: nbdkit and nbdvault; replicated-vs-qsd: qsd, nbdvault and the references
        // nbdvault-untagged and nbdkit-luks.
        for (var script : java.util.Map.of("nbd-vs-nbdkit", 2, "replicated-vs-qsd", 4).entrySet()) {
            Path fio = out.resolve("fio").resolve(script.getKey()).resolve("rep1");
            List<Path> json;
            try (Stream<Path> s = Files.list(fio)) {
                json = s.filter(f -> f.toString().endsWith(".json")).collect(Collectors.toList());
            }
            assertEquals(5 * script.getValue(), json.size(), "five jobs on each target in " + fio + ": " + json);
            for (Path j : json) {
                assertTrue(Files.readString(j).contains("\"jobs\""), j + " is fio's JSON");
                // The CPU time of the target's processes during the same job.
                String cpu = Files.readString(fio.resolve("cpu").resolve(j.getFileName()));
                String label = j.getFileName().toString().split("_")[0];
                int replicas = script.getKey().equals("replicated-vs-qsd") && !label.equals("nbdkit-luks") ? 3 : 0;
                assertTrue(cpu.contains("\"serverCpuSeconds\"") && cpu.contains("\"replicaProcesses\": " + replicas),
                        j + ": " + cpu);
            }
        }
        // nbdvault's per-layer latencies after preconditioning and after each of its five jobs.
        Path status = out.resolve("fio/replicated-vs-qsd/rep1/status");
        try (Stream<Path> s = Files.list(status)) {
            List<Path> snapshots = s.collect(Collectors.toList());
            assertEquals(6, snapshots.size(), "status snapshots: " + snapshots);
            for (Path j : snapshots) {
                assertTrue(Files.readString(j).contains("\"layers\""), j + " is status --json");
                // Started as a user starts it (./nbdvault), the server runs without Netty's leak detector.
                assertTrue(Files.readString(j).contains("\"leakDetection\" : \"disabled\""), j + " leak detection");
            }
        }
        // The like-for-like reference really ran without integrity tags, and the default volume with them.
        String untagged = Files.readString(out.resolve("fio/replicated-vs-qsd/rep1/untagged/status.json"));
        assertTrue(untagged.matches("(?s).*\"integrityBlock\" : 0\\b.*"), "untagged volume: " + untagged);
        String tagged = Files.readString(out.resolve("fio/replicated-vs-qsd/rep1/status/nbdvault_precondition_1M_qd8.json"));
        assertTrue(tagged.matches("(?s).*\"integrityBlock\" : [1-9][0-9]*\\b.*"), "default volume: " + tagged);
        assertTrue(Files.readString(out.resolve("summary.md")).contains("Where nbdvault's time goes"));
        // The paths the server took, from its status: what a reader needs to compare runs.
        assertTrue(Files.readString(out.resolve("summary.md")).contains("sockets on `"
                + io.nbdvault.nbd.server.SocketTransport.chosen() + "`"));
        // ... and the JVM it ran on: the one JAVA names (this test's), not whichever the launcher would pick.
        assertTrue(Files.readString(out.resolve("summary.md")).contains("the JVM `Java " + Runtime.version() + " ("));
        assertTrue(Files.readString(out.resolve("summary.md")).contains("Tweak masks computed by the " + io.nbdvault.crypto.xts.AesXts.maskPath() + " path"));
        assertTrue(Files.readString(out.resolve("summary.md")).contains("AES/ECB underneath: " + engine + " ("));
        // ... and its figure in the XTS tables: a number in the AES/ECB in use column of the 4 KiB row, both tables.
        List<String> xtsRows = Files.readString(out.resolve("summary.md")).lines()
                .filter(l -> l.startsWith("| 4 KiB |")).collect(Collectors.toList());
        assertEquals(2, xtsRows.size(), "per CPU-second and per wall-clock second: " + xtsRows);
        for (String row : xtsRows) {
            assertTrue(row.split("\\|")[5].trim().matches("[0-9.]+ GB/s"), "AES/ECB in use: " + row);
        }
        assertTrue(Files.readString(out.resolve("summary.md")).contains("CPU per request of each process on the path (replicated-vs-qsd)"));
        // The server CPU each goal ratio leaves, one row per goal job, from the CPU and fio figures above.
        String summary = Files.readString(out.resolve("summary.md"));
        // ... for the default volume and for the untagged one, each row with the ratio reached and its verdict.
        assertTrue(summary.contains("What the goals leave for nbdvault's server"), "goal budget section");
        assertTrue(summary.contains("What the goals leave for nbdvault-untagged's server"), "untagged goal budget section");
        assertTrue(summary.contains("## fio: nbdvault serve without integrity tags"), "untagged comparison");
        for (String goal : List.of("| write 1M QD8 | 3× |", "| read 1M QD8 | 4× |", "| randwrite 4k QD32 | 2× |",
                "| randread 4k QD32 | 2× |")) {
            long rows = summary.lines().filter(l -> l.startsWith(goal)).count();
            assertEquals(2, rows, "goal budget rows " + goal);
            assertTrue(summary.lines().filter(l -> l.startsWith(goal))
                    .allMatch(l -> l.matches("\\| [^|]+ \\| [0-9]× \\| [0-9.]+× \\| (yes|no) \\|.*")), "goal row " + goal);
        }
        String latest = Files.readString(results.resolve("latest.md"));
        // The simulated lab (15 rate-limited replicas, 5 x 3) and the scaling with copies and groups.
        for (String name : List.of("lab/lab.md", "lab/lab.dat", "lab/rate-800M/replicas.txt", "scaling/scaling.md",
                "scaling/scaling.dat", "scaling/results.txt")) {
            assertNonEmpty(out.resolve(name));
        }
        assertEquals(15, Files.readAllLines(out.resolve("lab/rate-800M/replicas.txt")).size(), "every replica measured");
        assertTrue(Files.readString(out.resolve("lab/lab.md")).contains("% of limit"));
        for (String chart : List.of("xts.png", "fio-nbd-vs-nbdkit.png", "fio-replicated-vs-qsd.png",
                "fio-replicated-vs-qsd-untagged.png", "fio-replicated-vs-nbdkit-luks.png", "lab/lab.png", "scaling/scaling.png")) {
            Path png = out.resolve(chart);
            assertNonEmpty(png);
            byte[] head = new byte[4];
            System.arraycopy(Files.readAllBytes(png), 0, head, 0, 4);
            assertArrayEquals(PNG, head, chart + " is a PNG");
            assertTrue(latest.contains("](" + out.getFileName() + "/" + chart + ")"), "latest.md links " + chart);
        }
        assertTrue(latest.contains("AES-XTS"), latest);
    }

    private static void assertNonEmpty(Path file) throws IOException {
        assertTrue(Files.exists(file) && Files.size(file) > 0, file + " is missing or empty");
    }
}
