package io.nbdvault.nbd.codec;

/** The peer broke the protocol in a way after which the byte stream can no longer be trusted. */
public final class NbdProtocolException extends RuntimeException {
    public NbdProtocolException(String message) {
        super(message);
    }
}
