package io.nbdvault.nbd.codec;

/** One option of the newstyle handshake: its number and payload (at most {@code Nbd.MAX_OPTION_LENGTH} bytes). */
public record NbdOption(int option, byte[] data) {
}
