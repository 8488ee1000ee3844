package io.nbdvault.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Which JVM {@code ./nbdvault} runs (scripts/java.sh) and with which options, against stand-in JDKs:
 * each is a directory with the {@code release} file every OpenJDK build carries and a {@code bin/java}
 * that writes down how it was called instead of starting anything. The launcher must take
 * {@code JAVA_HOME} when set, else the newest JDK 17+ among {@code java} on PATH and the JDK
 * directory, give JDK 23+ the Unsafe option jnr-ffi needs to stay quiet and JDK 25+ the Vector API
 * on the commands that carry data, and find its jar when run through a symlink.
 */
class LauncherJavaTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final String JAR = ROOT.resolve("cli/target/nbdvault.jar").toString();
    private static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";
    private static final List<String> VECTOR = List.of("--add-modules", "jdk.incubator.vector");

    @TempDir
    Path dir;
    private Path jvms;
    private Path onPath;
    private Path calls;

    @BeforeEach
    void jdks() throws IOException {
        jvms = dir.resolve("jvm");
        onPath = dir.resolve("path-jdk");
        calls = dir.resolve("calls");
        fakeJdk(onPath, "17.0.15");
        fakeJdk(jvms.resolve("java-17-openjdk-amd64"), "17.0.15");
        fakeJdk(jvms.resolve("temurin-21-jdk"), "21.0.5");
        fakeJdk(jvms.resolve("temurin-25-jdk"), "25.0.3");
        fakeJdk(jvms.resolve("java-8-openjdk"), "1.8.0_432");
        // Not a JDK: a release file but no java.
        Files.createDirectories(jvms.resolve("jdk-99-docs"));
        Files.writeString(jvms.resolve("jdk-99-docs/release"), "JAVA_VERSION=\"99\"\n");
    }

    @Test
    @Timeout(60)
    void takesTheNewestInstalledJdkAndGivesEachCommandItsOptions() throws Exception {
        assertEquals(call(jvms.resolve("temurin-25-jdk"), UNSAFE, VECTOR.get(0), VECTOR.get(1), "-jar", JAR, "serve", "x"),
                launch(Map.of(), "serve", "x"));
        // Commands that carry no data go without the incubator module (and its warning line).
        assertEquals(call(jvms.resolve("temurin-25-jdk"), UNSAFE, "-jar", JAR, "status"), launch(Map.of(), "status"));
        // No arguments means serve.
        assertEquals(call(jvms.resolve("temurin-25-jdk"), UNSAFE, VECTOR.get(0), VECTOR.get(1), "-jar", JAR),
                launch(Map.of()));
        // NBDVAULT_JAVA_OPTS come after the launcher's own options, so they can override them.
        assertEquals(call(jvms.resolve("temurin-25-jdk"), UNSAFE, "-Xmx1g", "-Dnbdvault.xts.vector=false", "-jar", JAR, "status"),
                launch(Map.of("NBDVAULT_JAVA_OPTS", "-Xmx1g -Dnbdvault.xts.vector=false"), "status"));
    }

    @Test
    @Timeout(60)
    void javaHomeWinsWhateverItsRelease() throws Exception {
        assertEquals(call(jvms.resolve("java-17-openjdk-amd64"), "-jar", JAR, "serve", "x"),
                launch(Map.of("JAVA_HOME", jvms.resolve("java-17-openjdk-amd64").toString()), "serve", "x"));
        assertEquals(call(jvms.resolve("temurin-21-jdk"), "-jar", JAR, "export", "y"),
                launch(Map.of("JAVA_HOME", jvms.resolve("temurin-21-jdk").toString()), "export", "y"));
    }

    @Test
    @Timeout(60)
    void javaOnPathWinsATieAndIsTheLastResort() throws Exception {
        Path newerOnPath = dir.resolve("path-jdk-25");
        fakeJdk(newerOnPath, "25.0.1");
        assertEquals(call(newerOnPath, UNSAFE, "-jar", JAR, "status"),
                launch(Map.of("PATH", newerOnPath.resolve("bin") + ":/usr/bin:/bin"), "status"));
        // Nothing of release 17 or later: `java` on PATH runs, as it would have without the launcher.
        Path old = dir.resolve("old-jvms");
        fakeJdk(old.resolve("java-11"), "11.0.2");
        fakeJdk(old.resolve("java-8"), "1.8.0_432");
        Path elevenOnPath = dir.resolve("path-jdk-11");
        fakeJdk(elevenOnPath, "11.0.2");
        assertEquals(call(elevenOnPath, "-jar", JAR, "serve"),
                launch(Map.of("PATH", elevenOnPath.resolve("bin") + ":/usr/bin:/bin", "NBDVAULT_JVM_DIRS", old.toString()),
                        "serve"));
    }

    @Test
    @Timeout(60)
    void findsItsJarThroughASymlink() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("usr-bin"));
        Path link = Files.createSymbolicLink(bin.resolve("nbdvault"), ROOT.resolve("nbdvault"));
        assertEquals(call(jvms.resolve("temurin-25-jdk"), UNSAFE, "-jar", JAR, "status"),
                run(link, Map.of(), "status"));
    }

    private List<String> launch(Map<String, String> env, String... args) throws Exception {
        return run(ROOT.resolve("nbdvault"), env, args);
    }

    /** Runs the launcher at {@code launcher} with the stand-in JDKs; returns how java was called. */
    private List<String> run(Path launcher, Map<String, String> env, String... args) throws Exception {
        Files.deleteIfExists(calls);
        ProcessBuilder pb = new ProcessBuilder(launcher.toString());
        pb.command().addAll(List.of(args));
        pb.environment().remove("JAVA_HOME");
        pb.environment().remove("NBDVAULT_JAVA_OPTS");
        pb.environment().put("NBDVAULT_NO_BUILD", "1");
        pb.environment().put("NBDVAULT_JVM_DIRS", jvms.toString());
        pb.environment().put("PATH", onPath.resolve("bin") + ":/usr/bin:/bin");
        pb.environment().put("CALLS", calls.toString());
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the launcher did not finish: " + output);
        }
        assertEquals(0, p.exitValue(), output);
        return Files.readAllLines(calls);
    }

    /** What a stand-in JDK at {@code home} writes when called with {@code args}: its path, then each argument. */
    private static List<String> call(Path home, String... args) {
        List<String> expected = new java.util.ArrayList<>(List.of(home.resolve("bin/java").toString()));
        expected.addAll(List.of(args));
        return expected;
    }

    private static void fakeJdk(Path home, String version) throws IOException {
        Files.createDirectories(home.resolve("bin"));
        Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"" + version + "\"\n");
        Path java = home.resolve("bin/java");
        Files.writeString(java, "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > \"$CALLS\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
