package io.nbdvault.nbd.codec;

/** NBDMAGIC, IHAVEOPT and the handshake flags the server opens every connection with. */
public record ServerGreeting(short handshakeFlags) {
}
