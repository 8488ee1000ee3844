package io.nbdvault.transport;

import io.nbdvault.testing.ExternalTool;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real nbdkit on a unix socket (or TCP port), for replica tests. */
final class Nbdkit implements AutoCloseable {
    final Process process;
    final Path socket;

    private Nbdkit(Process process, Path socket) {
        this.process = process;
        this.socket = socket;
    }

    static Nbdkit start(Path socket, String... pluginAndFilters) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ExternalTool.require("nbdkit"), "-f", "--exit-with-parent",
                "-U", socket.toString()));
        cmd.addAll(List.of(pluginAndFilters));
        Files.deleteIfExists(socket);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(new File(socket + ".log")).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(socket)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("nbdkit did not start: " + Files.readString(Path.of(socket + ".log")));
            }
            Thread.sleep(20);
        }
        return new Nbdkit(p, socket);
    }

    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    void signal(String name) throws Exception {
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor();
        if (name.equals("STOP")) {
            awaitStopped(process.pid());
        }
    }

    /** kill(2) returns before a SIGSTOP takes effect: wait until the process is really stopped. */
    static void awaitStopped(long pid) throws Exception {
        Path status = Path.of("/proc/" + pid + "/status");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.readString(status).contains("State:\tT")) {
            if (System.nanoTime() > deadline) {
                throw new IOException("process " + pid + " did not stop");
            }
            Thread.sleep(5);
        }
    }

    @Override
    public void close() throws Exception {
        signal("CONT");
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
