package io.nbdvault.nbd.codec;

/** A server reply to an option: type (ACK, SERVER, INFO, META_CONTEXT or an error) and payload. */
public record OptionReply(int option, int type, byte[] data) {
    public static OptionReply ack(int option) {
        return new OptionReply(option, io.nbdvault.nbd.protocol.Nbd.REP_ACK, new byte[0]);
    }

    public static OptionReply error(int option, int type, String message) {
        return new OptionReply(option, type, message.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
