package io.nbdvault.nbd.server;

import io.nbdvault.core.BlockDevice;

/** One disk the server offers, under a name clients ask for; the first export is also the default ("") one. */
public record NbdExport(String name, String description, BlockDevice device, boolean readOnly) {
    public NbdExport {
        if (name == null || description == null || device == null) {
            throw new IllegalArgumentException("export name, description and device are required");
        }
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 4096) {
            throw new IllegalArgumentException("export name longer than 4096 bytes");
        }
    }

    /** Writable only when both the export and its device allow it. */
    public boolean effectivelyReadOnly() {
        return readOnly || device.capabilities().readOnly();
    }
}
