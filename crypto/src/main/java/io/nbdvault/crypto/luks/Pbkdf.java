package io.nbdvault.crypto.luks;

/** The key-derivation functions a key slot can use. */
public enum Pbkdf {
    ARGON2ID("argon2id"),
    ARGON2I("argon2i"),
    PBKDF2("pbkdf2");

    private final String luksName;

    Pbkdf(String luksName) {
        this.luksName = luksName;
    }

    public String luksName() {
        return luksName;
    }

    public static Pbkdf fromLuksName(String name) throws LuksException {
        for (Pbkdf p : values()) {
            if (p.luksName.equals(name)) {
                return p;
            }
        }
        throw new LuksException("unsupported key derivation function '" + name + "'");
    }
}
