package io.nbdvault.core;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;

/**
 * Whole-file advisory locks (fcntl), so that two nbdvault processes never write one file or block
 * device at once — the second `serve`, `export` or `format` is refused, as a second mdadm or
 * cryptsetup is. A writer takes an exclusive lock, a read-only opener a shared one. Within one
 * process opens are counted, not locked again (an array reopens a member while still holding
 * it); the lock lives on a channel of its own, so closing a device's channel never drops it.
 */
public final class FileLocks {
    private record Held(FileChannel channel, FileLock lock, int count) {
    }

    private static final Map<Object, Held> HELD = new HashMap<>();

    private FileLocks() {
    }

    /** Locks {@code path} for this process; returns the key to release it with. */
    public static synchronized Object acquire(Path path, boolean shared) throws IOException {
        Object key = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        if (key == null) {
            key = path.toRealPath();
        }
        Held held = HELD.get(key);
        if (held != null) {
            HELD.put(key, new Held(held.channel(), held.lock(), held.count() + 1));
            return key;
        }
        FileChannel channel = shared ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (IOException | OverlappingFileLockException e) {
            channel.close();
            throw new IOException("cannot lock " + path + ": " + e.getMessage(), e);
        }
        if (lock == null) {
            channel.close();
            throw new IOException(path + " is in use by another process (another nbdvault serve, export or format holds it);"
                    + " stop that one first");
        }
        HELD.put(key, new Held(channel, lock, 1));
        return key;
    }

    /** Drops one hold; the lock goes with the last. */
    public static synchronized void release(Object key) {
        Held held = HELD.get(key);
        if (held == null) {
            return;
        }
        if (held.count() > 1) {
            HELD.put(key, new Held(held.channel(), held.lock(), held.count() - 1));
            return;
        }
        HELD.remove(key);
        try {
            held.channel().close();
        } catch (IOException ignored) {
            // Closing the channel releases the lock; there is nothing else to undo.
        }
    }
}
