package io.nbdvault.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the third-party programs the tests run against. When one is missing the test fails under
 * CI (CI=true), where the test script installs them all, and is skipped elsewhere with the name of
 * the missing tool.
 */
public final class ExternalTool {
    private ExternalTool() {
    }

    /** Absolute path of {@code name} on PATH (or in /usr/sbin, /sbin), or a failure/skip naming it. */
    public static String require(String name) {
        Path found = find(name);
        if (found == null) {
            String message = "external tool '" + name + "' is not installed (run ./scripts/test.sh, which installs it)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            Assumptions.abort(message);
        }
        return found.toString();
    }

    public static boolean isInstalled(String name) {
        return find(name) != null;
    }

    /** Skips (even under CI) a test that needs a kernel feature these machines lack, saying which. */
    public static void requireKernelFeature(boolean present, String what) {
        Assumptions.assumeTrue(present, "kernel feature missing on this machine: " + what);
    }

    /** Root is needed for mount and FUSE; the project's machines and CI run as root. */
    public static void requireRoot(String why) {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root) {
            String message = "needs root: " + why;
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(message);
            }
            Assumptions.abort(message);
        }
    }

    private static Path find(String name) {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin:/sbin:/usr/bin";
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
