package io.nbdvault.nbd.server;

/** Whether clients may, or must, upgrade the connection with NBD_OPT_STARTTLS. */
public enum TlsMode {
    OFF,
    OPTIONAL,
    REQUIRED
}
