package io.nbdvault.cli;

import org.junit.jupiter.api.Test;

import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** nbdvault's process turns Netty's leak detector off unless its command line asked for a level. */
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
}
