package io.nbdvault.crypto.luks;

import java.io.IOException;

/** A LUKS volume that cannot be opened or changed: wrong passphrase, corrupt or unsupported header. */
public class LuksException extends IOException {
    public LuksException(String message) {
        super(message);
    }

    public LuksException(String message, Throwable cause) {
        super(message, cause);
    }
}
