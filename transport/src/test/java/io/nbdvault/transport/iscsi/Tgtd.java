package io.nbdvault.transport.iscsi;

import io.nbdvault.testing.ExternalTool;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real tgtd for the tests, on its own control port (-C N) and a portal on 127.0.0.1, configured
 * with tgtadm; stopped cleanly (targets offline and deleted, then the system deleted) by close().
 */
public final class Tgtd implements AutoCloseable {
    public final int control;
    public final int port;
    public final Path log;
    private final String tgtd;
    private final String tgtadm;
    private final Set<Integer> targets = new TreeSet<>();
    private final List<List<String>> replay = new ArrayList<>();
    private Process process;

    private Tgtd(Path dir) throws Exception {
        tgtd = ExternalTool.require("tgtd");
        tgtadm = ExternalTool.require("tgtadm");
        control = ThreadLocalRandom.current().nextInt(100, 30000);
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        log = dir.resolve("tgtd-" + control + ".log");
    }

    public static Tgtd start(Path dir) throws Exception {
        Tgtd t = new Tgtd(dir);
        t.launch();
        return t;
    }

    private void launch() throws Exception {
        process = new ProcessBuilder(tgtd, "-f", "-C", Integer.toString(control), "--iscsi",
                "portal=127.0.0.1:" + port).redirectErrorStream(true).redirectOutput(
                        ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("tgtd did not start: " + Files.readString(log));
            }
            if (run(false, "--mode", "system", "--op", "show") == 0) {
                try (java.net.Socket probe = new java.net.Socket("127.0.0.1", port)) {
                    break;
                } catch (IOException notYet) {
                    // the portal opens just after the control socket
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("tgtd did not answer on control port " + control);
            }
            Thread.sleep(50);
        }
    }

    public String portal() {
        return "127.0.0.1:" + port;
    }

    public String uri(String iqn, int lun) {
        return "iscsi://" + portal() + "/" + iqn + "/" + lun;
    }

    /** A target with one file-backed disk LUN 1, open to every initiator. */
    public Tgtd target(int tid, String iqn, Path backing, int blockSize) throws Exception {
        adm("--mode", "target", "--op", "new", "--tid", Integer.toString(tid), "--targetname", iqn);
        targets.add(tid);
        adm("--mode", "logicalunit", "--op", "new", "--tid", Integer.toString(tid), "--lun", "1",
                "--backing-store", backing.toString(), "--blocksize", Integer.toString(blockSize));
        adm("--mode", "target", "--op", "bind", "--tid", Integer.toString(tid), "--initiator-address", "ALL");
        return this;
    }

    public Tgtd param(int tid, String name, String value) throws Exception {
        adm("--mode", "target", "--op", "update", "--tid", Integer.toString(tid), "--name", name, "--value", value);
        return this;
    }

    /** An incoming (the initiator proves itself) or outgoing (the target does, mutual CHAP) account bound to a target. */
    public Tgtd account(int tid, String user, String password, boolean outgoing) throws Exception {
        adm("--mode", "account", "--op", "new", "--user", user, "--password", password);
        List<String> bind = new ArrayList<>(List.of("--mode", "account", "--op", "bind", "--tid", Integer.toString(tid),
                "--user", user));
        if (outgoing) {
            bind.add("--outgoing");
        }
        adm(bind.toArray(String[]::new));
        return this;
    }

    public Tgtd removeLun(int tid, int lun) throws Exception {
        adm("--mode", "logicalunit", "--op", "delete", "--tid", Integer.toString(tid), "--lun", Integer.toString(lun));
        return this;
    }

    private void adm(String... args) throws Exception {
        replay.add(List.of(args));
        if (run(true, args) != 0) {
            throw new IOException("tgtadm " + String.join(" ", args) + " failed");
        }
    }

    private int run(boolean logIt, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(tgtadm, "-C", Integer.toString(control), "--lld", "iscsi"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(logIt ? ProcessBuilder.Redirect.appendTo(log.toFile()) : ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    /** SIGSTOP or SIGCONT: a target that hangs, with its connections open. */
    public void signal(String name) throws Exception {
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor();
        if (name.equals("STOP")) {
            Path status = Path.of("/proc/" + process.pid() + "/status");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.readString(status).contains("State:\tT")) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("tgtd did not stop");
                }
                Thread.sleep(5);
            }
        }
    }

    /** SIGKILL: the sessions die with it. */
    public void kill() throws Exception {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Starts again on the same ports with the same configuration. */
    public void restart() throws Exception {
        launch();
        for (List<String> args : new ArrayList<>(replay)) {
            run(true, args.toArray(String[]::new));
        }
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            signal("CONT");
            for (int tid : targets) {
                run(true, "--mode", "target", "--op", "update", "--tid", Integer.toString(tid), "--name", "state",
                        "--value", "offline");
                run(true, "--mode", "target", "--op", "delete", "--force", "--tid", Integer.toString(tid));
            }
            List<String> cmd = List.of(tgtadm, "-C", Integer.toString(control), "--mode", "system", "--op", "delete");
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(new File("/dev/null")).start()
                    .waitFor(20, TimeUnit.SECONDS);
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
