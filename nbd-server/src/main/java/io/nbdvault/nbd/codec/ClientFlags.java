package io.nbdvault.nbd.codec;

/** The 32-bit flags a client sends right after the server's greeting. */
public record ClientFlags(int flags) {
}
