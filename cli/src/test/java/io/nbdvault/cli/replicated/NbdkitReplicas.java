package io.nbdvault.cli.replicated;

import io.nbdvault.cli.Main;
import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;

import java.io.File;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real replicas for the replicated volume: one `nbdkit file` per image, over a unix socket or TCP,
 * optionally behind nbdkit filters (error, delay) so tests can make them fail in realistic ways.
 */
final class NbdkitReplicas implements AutoCloseable {
    static final long MEMBER_SIZE = 84L << 20; // 80 MiB volume + 320 KiB of integrity tags + 1 MiB metadata, rounded up
    static final String[] CHEAP_KDF = {"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"};

    private final Path dir;
    private final Process[] running;
    private final String[][] filters;
    private final int[] ports;
    private Path tlsCertificates;

    /** {@code count} replicas over unix sockets, or over TCP on 127.0.0.1 when {@code tcp}. */
    NbdkitReplicas(Path dir, int count, boolean tcp) throws Exception {
        this.dir = dir;
        this.running = new Process[count];
        this.filters = new String[count][];
        this.ports = new int[count];
        for (int i = 0; i < count; i++) {
            filters[i] = new String[0];
            if (tcp) {
                try (ServerSocket s = new ServerSocket(0)) {
                    ports[i] = s.getLocalPort();
                }
            }
            try (RandomAccessFile f = new RandomAccessFile(image(i).toFile(), "rw")) {
                f.setLength(MEMBER_SIZE);
            }
        }
    }

    /** Puts nbdkit filter arguments (e.g. "--filter=delay", "delay-write=20ms") in front of replica i. */
    NbdkitReplicas withFilter(int i, String... args) {
        filters[i] = args;
        return this;
    }

    /** Every replica requires TLS with the certificates in {@code dir} (nbdkit's --tls-certificates layout). */
    NbdkitReplicas withTls(Path dir) {
        tlsCertificates = dir;
        return this;
    }

    Path image(int i) {
        return dir.resolve("replica-" + i + ".img");
    }

    Path socket(int i) {
        return dir.resolve("r" + i + ".sock");
    }

    String uri(int i) {
        String scheme = tlsCertificates != null ? "nbds" : "nbd";
        return ports[i] != 0 ? scheme + "://127.0.0.1:" + ports[i] + "/" : scheme + "+unix:///?socket=" + socket(i);
    }

    List<String> uris(int... which) {
        return Arrays.stream(which).mapToObj(this::uri).toList();
    }

    Process process(int i) {
        return running[i];
    }

    NbdkitReplicas startAll() throws Exception {
        for (int i = 0; i < running.length; i++) {
            start(i);
        }
        return this;
    }

    void start(int i) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ExternalTool.require("nbdkit"), "-f", "--exit-with-parent"));
        if (ports[i] != 0) {
            cmd.addAll(List.of("-p", Integer.toString(ports[i]), "-i", "127.0.0.1"));
        } else {
            Files.deleteIfExists(socket(i));
            cmd.addAll(List.of("-U", socket(i).toString()));
        }
        if (tlsCertificates != null) {
            cmd.addAll(List.of("--tls=require", "--tls-certificates=" + tlsCertificates));
        }
        List<String> filterFlags = Arrays.stream(filters[i]).filter(a -> a.startsWith("--")).toList();
        List<String> filterParams = Arrays.stream(filters[i]).filter(a -> !a.startsWith("--")).toList();
        cmd.addAll(filterFlags);
        cmd.addAll(List.of("file", image(i).toString()));
        cmd.addAll(filterParams);
        running[i] = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(new File(dir.resolve("nbdkit-" + i + ".log").toString())))
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!listening(i)) {
            assertTrue(System.nanoTime() < deadline && running[i].isAlive(), "nbdkit " + i + " started: " + log(i));
            Thread.sleep(20);
        }
    }

    private boolean listening(int i) {
        if (ports[i] == 0) {
            return Files.exists(socket(i));
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", ports[i]), 200);
            return true;
        } catch (java.io.IOException notYet) {
            return false;
        }
    }

    String log(int i) {
        try {
            return Files.readString(dir.resolve("nbdkit-" + i + ".log"));
        } catch (java.io.IOException e) {
            return "(no log)";
        }
    }

    void kill(int i) throws Exception {
        running[i].destroyForcibly().waitFor();
    }

    void signal(int i, String sig) throws Exception {
        new ProcessBuilder("kill", "-" + sig, Long.toString(running[i].pid())).start().waitFor();
        if (sig.equals("STOP")) {
            // kill(2) returns before the stop takes effect.
            Path status = Path.of("/proc/" + running[i].pid() + "/status");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.readString(status).contains("State:\tT")) {
                assertTrue(System.nanoTime() < deadline, "replica " + i + " stopped");
                Thread.sleep(5);
            }
        }
    }

    /** Waits until replica i serves again (one that was stopped first works through the connections queued meanwhile). */
    void awaitServing(int i) throws Exception {
        String nbdinfo = ExternalTool.require("nbdinfo");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Proc.Result r;
        while ((r = Proc.run(30, nbdinfo, "--size", uri(i))).exitCode() != 0) {
            assertTrue(System.nanoTime() < deadline, "replica " + i + " serves again: " + r.stderr() + "\n"
                    + "alive: " + running[i].isAlive() + (running[i].isAlive() ? "" : ", exit " + running[i].exitValue())
                    + "\n" + log(i));
            Thread.sleep(200);
        }
    }

    /** `nbdvault create` over the given replicas, with a cheap KDF and any extra options. */
    void createArray(Path key, List<String> members, String... extra) {
        List<String> create = new ArrayList<>(List.of("create", "--size", "80M", "--key-file", key.toString()));
        create.addAll(List.of(CHEAP_KDF));
        create.addAll(List.of(extra));
        if (tlsCertificates != null) {
            create.addAll(List.of("--replica-ca", tlsCertificates.resolve("ca-cert.pem").toString()));
        }
        create.addAll(members);
        assertEquals(0, Main.run(create.toArray(String[]::new)));
    }

    @Override
    public void close() throws Exception {
        for (Process p : running) {
            if (p != null) {
                new ProcessBuilder("kill", "-CONT", Long.toString(p.pid())).start().waitFor();
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
