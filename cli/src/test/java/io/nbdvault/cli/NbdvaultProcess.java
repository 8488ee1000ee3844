package io.nbdvault.cli;

import io.nbdvault.testing.Proc;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real CLI in its own JVM (same classpath as the tests), so tests can signal it like a user
 * would: SIGTERM, SIGKILL, SIGSTOP. stderr goes to a file the test can read.
 */
public final class NbdvaultProcess implements AutoCloseable {
    private final Process process;
    private final Path stderr;

    private NbdvaultProcess(Process process, Path stderr) {
        this.process = process;
        this.stderr = stderr;
    }

    public static NbdvaultProcess start(Path workDir, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Proc.thisJava());
        // Sampled leak tracking (paranoid would slow the chaos tests' I/O); a report fails terminate().
        command.add("-Dio.netty.leakDetection.level=advanced");
        // The launcher adds the module on JDK 25+ for the commands that carry data; AesXts ignores it
        // on older JDKs, so it is added here for every command.
        command.add("--add-modules");
        command.add("jdk.incubator.vector");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        Path err = Files.createTempFile(workDir, "nbdvault", ".stderr");
        Process p = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(workDir.resolve(err.getFileName() + ".stdout").toFile())
                .redirectError(err.toFile()).start();
        return new NbdvaultProcess(p, err);
    }

    /** Waits until {@code socket} accepts connections (the server is ready), or fails with its stderr. */
    public NbdvaultProcess awaitSocket(Path socket, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("nbdvault exited with " + process.exitValue() + ":\n" + stderr());
            }
            if (Files.exists(socket)) {
                try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                    ch.connect(java.net.UnixDomainSocketAddress.of(socket));
                    return this;
                } catch (IOException notYet) {
                    // Bound but not yet accepting; try again.
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nbdvault did not listen on " + socket + " within " + timeout + ":\n" + stderr());
    }

    /** Waits until stderr contains {@code text}. */
    public NbdvaultProcess awaitLog(String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (stderr().contains(text)) {
                return this;
            }
            if (!process.isAlive()) {
                throw new AssertionError("nbdvault exited with " + process.exitValue() + " before logging '" + text
                        + "':\n" + stderr());
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nbdvault did not log '" + text + "' within " + timeout + ":\n" + stderr());
    }

    public String stderr() {
        try {
            return Files.readString(stderr);
        } catch (IOException e) {
            return "(stderr unreadable: " + e.getMessage() + ")";
        }
    }

    public long pid() {
        return process.pid();
    }

    public void signal(String signal) {
        Proc.run(10, "kill", "-" + signal, Long.toString(process.pid())).assertOk();
    }

    /** Sends SIGTERM and returns the exit code (the JVM exits 143 after shutdown hooks ran, or 0). */
    public int terminate(Duration timeout) throws InterruptedException {
        signal("TERM");
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("nbdvault did not stop within " + timeout + " after SIGTERM:\n" + stderr());
        }
        if (stderr().contains("LEAK: ")) {
            throw new AssertionError("nbdvault reported a leaked buffer:\n" + stderr());
        }
        return process.exitValue();
    }

    public int waitFor(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("nbdvault still running after " + timeout + ":\n" + stderr());
        }
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
