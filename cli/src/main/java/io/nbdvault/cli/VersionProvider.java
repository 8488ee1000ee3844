package io.nbdvault.cli;

import picocli.CommandLine;

/**
 * Reports the version Maven wrote into the jar's manifest, and the JVM it runs on: the launcher picks
 * the newest JDK installed, and the JDK decides how fast AES-XTS runs, so a user (and the benchmark
 * scripts, which record it beside their figures) can see which one that was.
 */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = Main.class.getPackage().getImplementationVersion();
        return new String[] {"nbdvault " + (version == null ? "development build" : version), javaRuntime()};
    }

    /** "Java 25.0.3+9-LTS (Eclipse Adoptium) at /usr/lib/jvm/temurin-25-jdk-amd64". */
    public static String javaRuntime() {
        return "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ") at " + System.getProperty("java.home");
    }
}
