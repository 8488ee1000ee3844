package io.nbdvault.nbd.codec;

/** The reply that ends the handshake after NBD_OPT_EXPORT_NAME (no option-reply header). */
public record ExportNameReply(long size, short transmissionFlags, boolean noZeroes) {
}
