package io.nbdvault.bench;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench/summarize.py RUN}: the fio summary says how much the machine moved since the newest
 * earlier run on the same kind of machine, from the CPU per request of the peers (the same programs
 * in both runs), and what of nbdvault's own change the machine does not explain.
 */
class MachineDriftTest {
    private static final String SCRIPT = "replicated-vs-qsd";

    @TempDir
    Path results;

    @BeforeEach
    void tools() {
        ExternalTool.require("python3");
        ExternalTool.require("gnuplot");
    }

    @Test
    void peersCpuAgainstTheNewestComparableRun() throws IOException {
        // All three targets use 3000 µs of CPU per request in the first run (fio, server, replicas
        // 1000 each; nbdkit-luks has no replicas: 2000).
        run("2026-01-01T000000Z", "AMD EPYC", Map.of("qsd", 1.0, "nbdkit-luks", 1.0, "nbdvault", 1.0,
                "nbdvault-untagged", 1.0));
        // A run on another CPU in between, with wild figures: not a baseline for this machine.
        run("2026-01-02T000000Z", "Intel Xeon", Map.of("qsd", 10.0, "nbdkit-luks", 10.0, "nbdvault", 10.0));
        // The machine at half speed: the peers need twice the CPU; nbdvault three times, its untagged
        // variant nine (nbdvault's own code: shown, never taken for the machine's drift).
        Path last = run("2026-01-03T000000Z", "AMD EPYC", Map.of("qsd", 2.0, "nbdkit-luks", 2.0, "nbdvault", 3.0,
                "nbdvault-untagged", 9.0));

        String summary = summarize(last);

        assertTrue(summary.contains("### This machine against run 2026-01-01T000000Z (" + SCRIPT + ")"), summary);
        assertTrue(summary.contains("The peers needed **2.00×** (2.00–2.00×)"), summary);
        assertTrue(summary.contains("](../2026-01-01T000000Z/summary.md)"), summary);
        assertTrue(summary.contains("| job | qsd | nbdvault-untagged | nbdkit-luks | nbdvault | nbdvault ÷ peers |"), summary);
        assertTrue(summary.contains("| write 1M QD8 | 2.00 | 9.00 | 2.00 | 3.00 | 1.50 |"), summary);
    }

    @Test
    void noSectionWithoutAnEarlierRunOnTheSameKindOfMachine() throws IOException {
        run("2026-01-01T000000Z", "Intel Xeon", Map.of("qsd", 1.0, "nbdvault", 1.0));
        Path last = run("2026-01-02T000000Z", "AMD EPYC", Map.of("qsd", 2.0, "nbdvault", 2.0));

        String summary = summarize(last);

        assertTrue(summary.contains("### CPU per request of each process on the path (" + SCRIPT + ")"), summary);
        assertFalse(summary.contains("This machine against run"), summary);
    }

    private String summarize(Path run) throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        Proc.run(60, "/usr/bin/python3", root.resolve("bench/summarize.py").toString(), run.toString()).assertOk();
        return Files.readString(run.resolve("summary.md"));
    }

    /** A run of one job, write 1M QD8, each target's CPU per request {@code factor} × the base figures. */
    private Path run(String stamp, String cpu, Map<String, Double> factors) throws IOException {
        Path dir = Files.createDirectories(results.resolve(stamp));
        Files.writeString(dir.resolve("env.txt"), "date: " + stamp + "\nmode: full\ncpu: " + cpu
                + "\ncores: 2\nfio-size: 1G\n");
        Path rep = Files.createDirectories(dir.resolve("fio/" + SCRIPT + "/rep1/cpu"));
        for (Map.Entry<String, Double> target : factors.entrySet()) {
            double f = target.getValue();
            boolean replicas = !target.getKey().equals("nbdkit-luks");
            String name = target.getKey() + "_write_1M_qd8.json";
            // 100 requests/s, 500 after a 1 s ramp: 600 in all, over which the CPU seconds are spread.
            String side = "{\"iops\": %d, \"total_ios\": %d, \"bw_bytes\": %d, \"clat_ns\": {\"percentile\": {}}}";
            Files.writeString(rep.getParent().resolve(name), "{\"jobs\": [{\"write\": " + side.formatted(100, 500, 100 << 20)
                    + ", \"read\": " + side.formatted(0, 0, 0) + ", \"usr_cpu\": " + 10 * f + ", \"sys_cpu\": 0}]}");
            Files.writeString(rep.resolve(name), "{\"rampSeconds\": 1, \"serverCpuSeconds\": " + 0.6 * f
                    + ", \"replicaCpuSeconds\": " + (replicas ? 0.6 * f : 0) + ", \"replicaProcesses\": "
                    + (replicas ? 3 : 0) + "}");
        }
        return dir;
    }
}
