package io.nbdvault.transport.nbd;

/** What the server told us about the export during the handshake. */
record ExportInfo(long size, int transmissionFlags, int minimumBlock, int preferredBlock, int maximumPayload,
                  boolean structuredReplies) {
}
