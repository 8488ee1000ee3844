package io.nbdvault.crypto;

/**
 * Whether code written with the Vector API ({@code jdk.incubator.vector}) runs at its speed in this
 * JVM: the module resolved (the launcher passes {@code --add-modules jdk.incubator.vector} to the
 * commands that carry data, on JDK 25 and later), C2 there to compile it (the interpreter and C1 run
 * Vector API code as objects, many times slower than scalar code; chaos tests run C1 only), and JDK
 * {@value #SINCE_JDK} or later. On JDK 17 the same compiled code ran the XTS mask pass 4-5× slower
 * (310 → 1430 ns per 8 KiB) for stretches of up to seconds, with no recompilation and no GC at the
 * switch, in most runs of XtsCpuTime; on JDK 25 none of 12 runs showed one. Each user adds its own
 * conditions (a vector size, a property to turn it off) and keeps a scalar path with the same result.
 */
public final class VectorApi {
    /** The first JDK on which vector paths held their speed. */
    public static final int SINCE_JDK = 25;

    private VectorApi() {
    }

    /**
     * Whether a vector path should run: the system property {@code turnOff} (such as
     * {@code nbdvault.xts.vector}) not set to false, and the Vector API running well here.
     */
    public static boolean wanted(String turnOff) {
        return Boolean.parseBoolean(System.getProperty(turnOff, "true")) && runsWell();
    }

    public static boolean runsWell() {
        return Runtime.version().feature() >= SINCE_JDK
                && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && c2Compiles();
    }

    private static boolean c2Compiles() {
        if (System.getProperty("java.vm.info", "").contains("interpreted")) {
            return false;
        }
        try {
            com.sun.management.HotSpotDiagnosticMXBean vm =
                    java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return !Boolean.parseBoolean(vm.getVMOption("TieredCompilation").getValue())
                    || Integer.parseInt(vm.getVMOption("TieredStopAtLevel").getValue()) >= 4;
        } catch (RuntimeException | LinkageError e) {
            return false; // not HotSpot: keep the path that needs no compiler in particular
        }
    }
}
