package io.nbdvault.crypto;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Function;

/**
 * A passphrase or key file's bytes, held off-heap and zeroed on close. Key derivation libraries
 * need a byte[]: {@link #use} lends one and zeroes it right after.
 */
public final class Passphrase implements AutoCloseable {
    /** cryptsetup's default limit for key files (8 MiB): larger input is almost certainly a mistake. */
    static final int MAX_LENGTH = 8 << 20;

    private final ByteBuffer secret;
    private boolean closed;

    private Passphrase(byte[] bytes) {
        secret = ByteBuffer.allocateDirect(Math.max(1, bytes.length));
        secret.put(bytes).flip();
        Arrays.fill(bytes, (byte) 0);
    }

    /** Takes the bytes and zeroes the array given. */
    public static Passphrase ofBytes(byte[] secret) {
        return new Passphrase(secret);
    }

    /** The whole file, byte for byte, as cryptsetup's --key-file reads it (no newline stripping). */
    public static Passphrase fromKeyFile(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new IOException("key file " + file + " does not exist");
        }
        if (!Files.isReadable(file)) {
            throw new IOException("key file " + file + " is not readable by this user");
        }
        long size = Files.size(file);
        if (size > MAX_LENGTH) {
            throw new IOException("key file " + file + " is larger than " + MAX_LENGTH + " bytes");
        }
        if (size == 0 && Files.isRegularFile(file)) {
            throw new IOException("key file " + file + " is empty");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return fromStream(in, file.toString(), false);
        }
    }

    /** Reads an open file descriptor of this process (a pipe from a secrets manager, say) to its end. */
    public static Passphrase fromFd(int fd) throws IOException {
        Path path = Path.of("/proc/self/fd/" + fd);
        if (!Files.exists(path)) {
            throw new IOException("file descriptor " + fd + " is not open");
        }
        try (InputStream in = Files.newInputStream(path)) {
            return fromStream(in, "file descriptor " + fd, false);
        }
    }

    /** Reads up to end of stream; with {@code oneLine} stops at the first newline (interactive input). */
    public static Passphrase fromStream(InputStream in, String what, boolean oneLine) throws IOException {
        byte[] buf = new byte[4096];
        int n = 0;
        try {
            int c;
            while ((c = in.read()) >= 0) {
                if (oneLine && c == '\n') {
                    break;
                }
                if (n == MAX_LENGTH) {
                    throw new IOException(what + " holds more than " + MAX_LENGTH + " bytes");
                }
                if (n == buf.length) {
                    byte[] bigger = Arrays.copyOf(buf, buf.length * 2);
                    Arrays.fill(buf, (byte) 0);
                    buf = bigger;
                }
                buf[n++] = (byte) c;
            }
            if (n == 0) {
                throw new IOException(what + " gave an empty passphrase");
            }
            return new Passphrase(Arrays.copyOf(buf, n));
        } finally {
            Arrays.fill(buf, (byte) 0);
        }
    }

    /** Lends the secret as a temporary array, zeroed as soon as {@code action} returns. */
    public <T> T use(Function<byte[], T> action) {
        if (closed) {
            throw new IllegalStateException("passphrase was closed");
        }
        byte[] copy = new byte[secret.remaining()];
        secret.duplicate().get(copy);
        try {
            return action.apply(copy);
        } finally {
            Arrays.fill(copy, (byte) 0);
        }
    }

    public int length() {
        return secret.remaining();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            for (int i = 0; i < secret.capacity(); i++) {
                secret.put(i, (byte) 0);
            }
        }
    }
}
