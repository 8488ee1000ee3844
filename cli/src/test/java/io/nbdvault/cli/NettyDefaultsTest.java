package io.nbdvault.cli;

import io.nbdvault.testing.Proc;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * nbdvault's process turns Netty's leak detector off and keeps more free chunks for reuse, unless
 * its command line set either.
 */
class NettyDefaultsTest {
    @Test
    void leakDetectionIsOffUnlessAsked() {
        Properties none = new Properties();
        NettyDefaults.apply(none);
        assertEquals("disabled", none.getProperty(NettyDefaults.LEAK_LEVEL));

        Properties asked = new Properties();
        asked.setProperty(NettyDefaults.LEAK_LEVEL, "paranoid");
        NettyDefaults.apply(asked);
        assertEquals("paranoid", asked.getProperty(NettyDefaults.LEAK_LEVEL));

        // The old name, which Netty still reads when the new one is absent, is an answer too.
        Properties legacy = new Properties();
        legacy.setProperty(NettyDefaults.LEGACY_LEAK_LEVEL, "simple");
        NettyDefaults.apply(legacy);
        assertNull(legacy.getProperty(NettyDefaults.LEAK_LEVEL));
        assertEquals("simple", legacy.getProperty(NettyDefaults.LEGACY_LEAK_LEVEL));
    }

    @Test
    void moreFreeChunksAreKeptUnlessAsked() {
        Properties none = new Properties();
        NettyDefaults.apply(none);
        int expected = Math.max(32, 2 * Runtime.getRuntime().availableProcessors());
        assertEquals(expected, NettyDefaults.reusedChunks());
        assertEquals(Integer.toString(expected), none.getProperty(NettyDefaults.CHUNK_REUSE));

        Properties asked = new Properties();
        asked.setProperty(NettyDefaults.CHUNK_REUSE, "8");
        NettyDefaults.apply(asked);
        assertEquals("8", asked.getProperty(NettyDefaults.CHUNK_REUSE));
    }

    /**
     * The Netty on the classpath reads the property under that name: one that renamed it would
     * silently go back to freeing chunks (in a JVM of its own, since the allocator reads it once).
     */
    @Test
    void nettysAllocatorKeepsWhatTheDefaultsSay() {
        assertEquals(NettyDefaults.reusedChunks(), keptByAllocator(List.of()));
        assertEquals(9, keptByAllocator(List.of("-D" + NettyDefaults.CHUNK_REUSE + "=9")));
    }

    private static int keptByAllocator(List<String> options) {
        return Integer.parseInt(Proc.runJava(60, options, NettyDefaultsProbe.class).assertOk().stdout().trim());
    }
}
