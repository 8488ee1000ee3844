package io.nbdvault.cli;

import io.nbdvault.crypto.Passphrase;
import picocli.CommandLine.Option;

import java.io.Console;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where a passphrase comes from: a key file, an inherited file descriptor, or an interactive prompt
 * without echo. Never from the command line, where every user of the machine could read it.
 */
public final class KeyOptions {
    @Option(names = "--key-file", paramLabel = "FILE", description = "Read the passphrase from FILE (all of it, as cryptsetup does).")
    Path keyFile;

    @Option(names = "--key-fd", paramLabel = "N", description = "Read the passphrase from file descriptor N until end of file.")
    Integer keyFd;

    public boolean given() {
        return keyFile != null || keyFd != null;
    }

    /** The passphrase; {@code confirm} asks twice when prompting (new passphrases). */
    public Passphrase read(String prompt, boolean confirm) throws IOException {
        if (keyFile != null && keyFd != null) {
            throw new IllegalArgumentException("give either --key-file or --key-fd, not both");
        }
        if (keyFile != null) {
            return Passphrase.fromKeyFile(keyFile);
        }
        if (keyFd != null) {
            return Passphrase.fromFd(keyFd);
        }
        Console console = System.console();
        if (console == null) {
            throw new IOException("no passphrase: use --key-file or --key-fd (there is no terminal to prompt on)");
        }
        char[] first = console.readPassword("%s: ", prompt);
        if (first == null || first.length == 0) {
            throw new IOException("empty passphrase");
        }
        try {
            if (confirm) {
                char[] again = console.readPassword("Verify %s: ", prompt.toLowerCase());
                try {
                    if (!Arrays.equals(first, again)) {
                        throw new IOException("passphrases do not match");
                    }
                } finally {
                    if (again != null) {
                        Arrays.fill(again, '\0');
                    }
                }
            }
            ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(first));
            byte[] bytes = new byte[encoded.remaining()];
            encoded.get(bytes);
            encoded.clear();
            while (encoded.hasRemaining()) {
                encoded.put((byte) 0);
            }
            return Passphrase.ofBytes(bytes);
        } finally {
            Arrays.fill(first, '\0');
        }
    }
}
