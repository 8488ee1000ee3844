package io.nbdvault.nbd.server;

/** What one connection negotiated during the handshake, handed to the transmission phase. */
final class Session {
    /** Context id the server hands out for {@code base:allocation}. */
    static final int BASE_ALLOCATION_ID = 1;

    boolean noZeroes;
    boolean tlsActive;
    boolean structuredReplies;
    /** Export the meta context was set for, or null when none was selected. */
    String metaContextExport;
    NbdExport export;

    boolean blockStatusEnabled() {
        return structuredReplies && export != null && export.name().equals(metaContextExport);
    }
}
