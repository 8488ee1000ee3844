package io.nbdvault.bench;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chaos report's short form: {@code bench/chaos/run.sh --quick} with the scenarios the other
 * tests do not already play (ReplicatedServeTest has a replica killed, stopped, all three lost for
 * a moment and a replace under fio), at small sizes. Asserts on the table it writes: no
 * acknowledged write lost, copies equal after scrub (and after repair), no client error where the
 * scenario promises none, and errors where it promises them (past the queue timeout, nbdvault
 * killed).
 */
class ChaosQuickTest {
    static final List<String> SCENARIOS = List.of("eio-one", "netns-link-down", "all-lost-past-timeout", "nbdvault-killed",
            "bitrot-repair");
    static final Set<String> ERRORS_EXPECTED = Set.of("all-lost-past-timeout", "nbdvault-killed");

    @TempDir
    Path results;

    @Test
    @Timeout(180)
    void quickChaosReportLosesNothing() throws Exception {
        for (String tool : List.of("nbdkit", "nbdinfo", "jq", "ip")) {
            ExternalTool.require(tool);
        }
        ExternalTool.requireRoot("network namespaces (ip netns) for the link-down scenario");
        Path root = Path.of("").toAbsolutePath().getParent();
        Path cliJar = root.resolve("cli/target/nbdvault.jar");
        if (!Files.exists(cliJar)) {
            String message = cliJar + " is not built: run the whole build, or mvn -pl bench -am verify";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            org.junit.jupiter.api.Assumptions.abort(message);
        }
        // The workload and the status watcher run from this module's classes and dependencies.
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path log = results.resolve("run.log");
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("bench/chaos/run.sh").toString(), "--quick",
                "--no-build", "--results", results.toString(), "--only", String.join(",", SCENARIOS))
                .directory(root.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("BENCH_CLASSPATH", classpath);
        pb.environment().put("JAVA", Proc.thisJava());
        Process p = pb.start();
        try {
            if (!p.waitFor(170, TimeUnit.SECONDS)) {
                // SIGTERM first: the script's trap kills its replicas and servers and deletes its namespaces.
                p.destroy();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError("bench/chaos/run.sh --quick did not finish in 170 s:\n" + Files.readString(log));
            }
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertEquals(0, p.exitValue(), "bench/chaos/run.sh --quick failed:\n" + output);

        List<Path> dated;
        try (Stream<Path> s = Files.list(results)) {
            dated = s.filter(f -> f.getFileName().toString().matches("\\d{4}-\\d\\d-\\d\\dT\\d{6}Z\\.md")).collect(Collectors.toList());
        }
        assertEquals(1, dated.size(), "one dated report: " + dated);
        String report = Files.readString(dated.get(0));
        assertEquals(report, Files.readString(results.resolve("latest.md")));

        Map<String, String[]> rows = table(report);
        assertEquals(Set.copyOf(SCENARIOS), rows.keySet(), report);
        for (String scenario : SCENARIOS) {
            String[] row = rows.get(scenario);
            // | scenario | lost | errors | detect | degraded | resynced | mismatches | writes/s | verdict |
            assertEquals("0", row[1], scenario + ": acknowledged writes lost\n" + report);
            String mismatches = row[6];
            assertEquals("0", mismatches.substring(mismatches.lastIndexOf(' ') + 1), scenario + ": mismatches after scrub\n" + report);
            long errors = Long.parseLong(row[2]);
            if (ERRORS_EXPECTED.contains(scenario)) {
                assertTrue(errors > 0, scenario + ": the client saw the errors it was promised\n" + report);
            } else {
                assertEquals(0, errors, scenario + ": client-visible errors\n" + report);
            }
            assertEquals("PASS", row[8], scenario + "\n" + report);
        }
        // Bytes altered behind nbdvault's back are found by scrub (and repaired, above).
        String found = rows.get("bitrot-repair")[6];
        assertTrue(Long.parseLong(found.substring(0, found.indexOf(' '))) > 0, "scrub found the altered bytes\n" + report);
        // The replica cut off by the link going down was noticed, and resynchronised when it came back.
        assertTrue(!rows.get("netns-link-down")[3].equals("—") && !rows.get("netns-link-down")[5].equals("0 B"), report);
    }

    /** Scenario name → cells of its row in the report's table. */
    static Map<String, String[]> table(String report) {
        Map<String, String[]> rows = new HashMap<>();
        for (String line : report.split("\n")) {
            if (line.startsWith("| ") && !line.startsWith("| scenario ")) {
                String[] cells = line.substring(1, line.length() - 1).split("\\|");
                for (int i = 0; i < cells.length; i++) {
                    cells[i] = cells[i].trim();
                }
                rows.put(cells[0], cells);
            }
        }
        return rows;
    }
}
