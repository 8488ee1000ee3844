package io.nbdvault.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an external program to completion with a time limit and captures what it printed. */
public final class Proc {
    public record Result(int exitCode, String stdout, String stderr, List<String> command) {
        /** Throws with everything the program printed unless it exited 0. */
        public Result assertOk() {
            if (exitCode != 0) {
                throw new AssertionError("command failed (exit " + exitCode + "): " + String.join(" ", command)
                        + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr);
            }
            return this;
        }
    }

    private Proc() {
    }

    /** The {@code java} launcher of the JVM running the tests, for tests that start a JVM of their own. */
    public static String thisJava() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * Runs {@code main} in a JVM of its own: this JVM's {@code java}, the tests' classpath, and
     * {@code jvmOptions} before the class (for what a JVM reads once at start-up).
     */
    public static Result runJava(long timeoutSeconds, List<String> jvmOptions, Class<?> main, String... args) {
        List<String> command = new ArrayList<>();
        command.add(thisJava());
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(Arrays.asList(args));
        return run(timeoutSeconds, null, command);
    }

    public static Result run(long timeoutSeconds, String... command) {
        return run(timeoutSeconds, null, Arrays.asList(command));
    }

    public static Result run(long timeoutSeconds, byte[] stdin, List<String> command) {
        try {
            Path out = Files.createTempFile("proc", ".out");
            Path err = Files.createTempFile("proc", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command))
                        .redirectOutput(out.toFile()).redirectError(err.toFile());
                if (stdin == null) {
                    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
                }
                Process p = pb.start();
                if (stdin != null) {
                    try (var in = p.getOutputStream()) {
                        in.write(stdin);
                    }
                }
                boolean exited;
                try {
                    exited = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    // The test gave up (its own timeout): the command and what it forked go too.
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    throw e;
                }
                if (!exited) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                    throw new AssertionError("command timed out after " + timeoutSeconds + " s: "
                            + String.join(" ", command) + "\n--- stdout ---\n" + Files.readString(out)
                            + "\n--- stderr ---\n" + Files.readString(err));
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8), List.copyOf(command));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new AssertionError("could not run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command, e);
        }
    }
}
