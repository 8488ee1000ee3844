package io.nbdvault.cli;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileDevice;
import io.nbdvault.core.MemoryDevice;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens what a user names on the command line as a target: {@code memory:SIZE}, a file or a block device. */
public final class Targets {
    private Targets() {
    }

    public static BlockDevice open(String target, boolean readOnly) throws IOException {
        if (target.startsWith("memory:")) {
            return new MemoryDevice(SizeConverter.parse(target.substring("memory:".length())));
        }
        String pathText = target.startsWith("file://") ? target.substring("file://".length()) : target;
        Path path = Path.of(pathText);
        if (!Files.exists(path)) {
            throw new IOException("no such file or device: " + path);
        }
        if (Files.isDirectory(path)) {
            throw new IOException(path + " is a directory, not a file or block device");
        }
        if (!Files.isReadable(path) || (!readOnly && !Files.isWritable(path))) {
            throw new IOException("permission denied: " + path + (readOnly ? "" : " (try --read-only)"));
        }
        return FileDevice.open(path, readOnly, sizeOf(path), NativeSupport.fileSpace(path, readOnly));
    }

    /**
     * Size of a file, or of a block device, for which the JDK's FileChannel.size() reports 0:
     * seeking to the end gives the real length for both.
     */
    static long sizeOf(Path path) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "r")) {
            long size = f.length();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = f.getChannel().position(0).size();
                if (size == 0) {
                    size = NativeSupport.blockDeviceSize(path);
                }
            }
            return size;
        }
    }
}
