package io.nbdvault.bench;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench/summarize.py --latest}: latest.md takes each part from the newest run that ran it, so
 * an XTS-only run does not hide the last fio results, and its links point into each part's run.
 */
class LatestResultsTest {
    @TempDir
    Path results;

    @Test
    void eachPartComesFromTheNewestRunThatHasIt() throws IOException {
        ExternalTool.require("python3");
        Path root = Path.of("").toAbsolutePath().getParent();
        // Older: every part. Newer: XTS only. A directory that is not a run's stamp: ignored.
        run("2026-01-01T000000Z", "abc1111", true, true, "old xts 1.0", "old fio 2.0");
        run("2026-01-02T000000Z", "def2222", true, false, "new xts 3.0", null);
        run("2026-01-03T000000Z-extra", "fff9999", true, true, "stray xts", "stray fio");

        Proc.run(30, "/usr/bin/python3", root.resolve("bench/summarize.py").toString(), "--latest", results.toString())
                .assertOk();
        String latest = Files.readString(results.resolve("latest.md"));

        assertTrue(latest.contains("new xts 3.0"), latest);
        assertFalse(latest.contains("old xts 1.0"), "the older run's XTS section is replaced:\n" + latest);
        assertTrue(latest.contains("old fio 2.0"), "the fio section of the last run that had one:\n" + latest);
        assertFalse(latest.contains("stray"), "only stamped run directories count:\n" + latest);
        assertTrue(latest.contains("](2026-01-02T000000Z/xts.png)"), latest);
        assertTrue(latest.contains("](2026-01-01T000000Z/fio-replicated-vs-qsd.png)"), latest);
        assertTrue(latest.contains("| AES-XTS per core | [2026-01-02T000000Z](2026-01-02T000000Z/summary.md) |"), latest);
        assertTrue(latest.contains("`def2222`") && latest.contains("`abc1111`"), "each part's commit:\n" + latest);
        assertTrue(latest.contains("| the founding lab | none yet |"), latest);
        assertEquals(1, latest.split("## AES-XTS", -1).length - 1, "one XTS section:\n" + latest);
    }

    private void run(String stamp, String commit, boolean xts, boolean fio, String xtsText, String fioText) throws IOException {
        Path dir = Files.createDirectories(results.resolve(stamp));
        Files.writeString(dir.resolve("env.txt"), "date: " + stamp + "\ncommand: bench/run.sh\ncommit: " + commit
                + "\ncpu: Test CPU\ncores: 2\njdk: 17\n");
        StringBuilder summary = new StringBuilder("# nbdvault benchmarks, " + stamp + "\n\n## AES-XTS-256 per core\n\n");
        if (xts) {
            Files.writeString(dir.resolve("xts-cputime.rep1.json"), "[]");
            summary.append(xtsText).append("\n\n![AES-XTS per core](xts.png)\n\n");
        } else {
            summary.append("(no XTS results in this run)\n\n");
        }
        if (fio) {
            Path rep = Files.createDirectories(dir.resolve("fio/replicated-vs-qsd/rep1"));
            Files.writeString(rep.resolve("qsd_write.json"), "{}");
            summary.append("## fio: nbdvault vs qsd\n\n").append(fioText)
                    .append("\n\n![fio](fio-replicated-vs-qsd.png)\n\n");
        }
        summary.append("Raw data beside this file: `env.txt`\n");
        Files.writeString(dir.resolve("summary.md"), summary.toString());
    }
}
