package io.nbdvault.nbd.server;

import io.nbdvault.core.Capabilities;
import io.nbdvault.nbd.protocol.Nbd;

/** Turns an export's capabilities into the 16-bit transmission flags of the handshake. */
final class TransmissionFlags {
    private TransmissionFlags() {
    }

    static short of(NbdExport export, boolean structuredReplies) {
        Capabilities c = export.device().capabilities();
        boolean readOnly = export.effectivelyReadOnly();
        int flags = Nbd.FLAG_HAS_FLAGS;
        if (readOnly) {
            flags |= Nbd.FLAG_READ_ONLY;
        }
        if (c.flush()) {
            flags |= Nbd.FLAG_SEND_FLUSH;
        }
        if (c.fua()) {
            flags |= Nbd.FLAG_SEND_FUA;
        }
        if (c.trim() && !readOnly) {
            flags |= Nbd.FLAG_SEND_TRIM;
        }
        if (c.writeZeroes() && !readOnly) {
            flags |= Nbd.FLAG_SEND_WRITE_ZEROES;
            if (c.fastZero()) {
                flags |= Nbd.FLAG_SEND_FAST_ZERO;
            }
        }
        if (c.cache()) {
            flags |= Nbd.FLAG_SEND_CACHE;
        }
        if (c.multiConn()) {
            flags |= Nbd.FLAG_CAN_MULTI_CONN;
        }
        if (structuredReplies) {
            // A read always fits one data chunk, so "don't fragment" costs nothing to honour.
            flags |= Nbd.FLAG_SEND_DF;
        }
        return (short) flags;
    }
}
