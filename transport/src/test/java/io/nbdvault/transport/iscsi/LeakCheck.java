package io.nbdvault.transport.iscsi;

import io.netty.util.ResourceLeakDetector;

/** Netty's leak detector at PARANOID for the iSCSI tests: every buffer is tracked. */
final class LeakCheck {
    private LeakCheck() {
    }

    static void paranoid() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }
}
