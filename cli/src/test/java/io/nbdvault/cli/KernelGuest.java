package io.nbdvault.cli;

import io.nbdvault.testing.ExternalTool;
import io.nbdvault.testing.Proc;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real Linux kernel for tests that need one (/dev/nbdN, netlink, fstrim): boots Debian's
 * user-mode-linux through the project's scripts/kernel-run.sh and runs one of the guest scripts
 * under cli/src/test/kernel in it, as root. The guest sees the host's files read-only, so the
 * test classes and their dependencies run there as they are; {@code share} is read-write on both
 * sides and holds the results. The guest finds there {@code nbdvault} (this build's CLI), {@code lib.sh}
 * (helpers for the scripts) and {@code env} (the variables the test passes).
 *
 * <p>Guest scripts write what they measured (checksums, sizes, exit codes) to files in the share;
 * tests assert on those and on the exit status, not on log wording. Each boot costs about 3 s;
 * each JVM start inside about 2-5 s, so a test class boots once and checks several things.
 */
final class KernelGuest {
    record Result(int exitCode, String output) {
        Result assertOk() {
            if (exitCode != 0) {
                throw new AssertionError("guest script failed (exit " + exitCode + "):\n" + output);
            }
            return this;
        }
    }

    private KernelGuest() {
    }

    /** The project checkout (where scripts/kernel-run.sh is), from the module directory Maven runs in. */
    static Path projectRoot() {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("scripts/kernel-run.sh"))) {
                return d;
            }
        }
        throw new AssertionError("scripts/kernel-run.sh not found above " + dir);
    }

    /** Fails under CI (skips elsewhere) when the kernel or a tool the guest script needs is missing. */
    static void requireTools(String... tools) {
        ExternalTool.requireRoot("the guest kernel mounts and attaches devices as root");
        ExternalTool.require("linux.uml");
        ExternalTool.require("modprobe");
        if (hostHasAvx512()) {
            ExternalTool.require("gcc"); // kernel-run.sh builds its UML register-state shim
        }
        for (String tool : tools) {
            ExternalTool.require(tool);
        }
    }

    private static boolean hostHasAvx512() {
        try {
            return Files.readString(Path.of("/proc/cpuinfo")).contains(" avx512f");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Runs {@code script} (a file under cli/src/test/kernel) in a fresh guest with {@code share} as
     * its working directory, the variables {@code env} in share/env, and a deadline.
     */
    static Result run(Path share, String script, Map<String, String> env, Duration timeout) throws Exception {
        Path root = projectRoot();
        Path scriptFile = root.resolve("cli/src/test/kernel").resolve(script);
        Files.copy(root.resolve("cli/src/test/kernel/lib.sh"), share.resolve("lib.sh"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        writeExecutable(share.resolve("nbdvault"), "#!/bin/bash\nexec " + quote(Proc.thisJava()) + " -XX:TieredStopAtLevel=1"
                + " -XX:+UseSerialGC -cp " + quote(System.getProperty("java.class.path")) + " "
                + Main.class.getName() + " \"$@\"\n");
        StringBuilder vars = new StringBuilder();
        vars.append("SHARE=").append(quote(share.toString())).append('\n');
        vars.append("PROJECT=").append(quote(root.toString())).append('\n');
        env.forEach((k, v) -> vars.append(k).append('=').append(quote(v)).append('\n'));
        Files.writeString(share.resolve("env"), vars);
        Path log = share.resolve("guest.log");
        List<String> command = new ArrayList<>(List.of(root.resolve("scripts/kernel-run.sh").toString(),
                "cd " + quote(share.toString()) + " && exec bash " + quote(scriptFile.toString())));
        ProcessBuilder pb = new ProcessBuilder(command).directory(share.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("KERNEL_SHARE", share.toString());
        // The checkout (guest scripts, compiled classes) may itself be under /tmp, which the guest replaces.
        pb.environment().put("KERNEL_RO_SHARE", root.toString());
        pb.environment().put("KERNEL_TIMEOUT", Long.toString(timeout.toSeconds()));
        long start = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(timeout.toSeconds() + 30, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        String output = Files.readString(log);
        System.out.printf("%s: guest ran %s in %.1f s, exit %d%n", script, script,
                (System.nanoTime() - start) / 1e9, p.isAlive() ? -1 : p.exitValue());
        System.out.println(output);
        return new Result(p.isAlive() ? 124 : p.exitValue(), output);
    }

    static String read(Path share, String name) throws IOException {
        Path f = share.resolve(name);
        if (!Files.exists(f)) {
            throw new AssertionError("the guest script wrote no " + name);
        }
        return Files.readString(f).trim();
    }

    private static void writeExecutable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
