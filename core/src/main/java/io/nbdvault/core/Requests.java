package io.nbdvault.core;

import java.util.concurrent.CompletableFuture;

/** Range checks done at the edge of the stack, and small future helpers every layer uses. */
public final class Requests {
    private Requests() {
    }

    /** Null when {@code [offset, offset+length)} lies inside a device of {@code size} bytes, else the error. */
    public static BlockDeviceException checkRange(long offset, long length, long size) {
        if (offset < 0 || length < 0) {
            return new BlockDeviceException(Errno.EINVAL, "negative offset or length: " + offset + "+" + length);
        }
        if (offset > size || length > size - offset) {
            return new BlockDeviceException(Errno.EINVAL,
                    "request " + offset + "+" + length + " is beyond the end of the device (" + size + " bytes)");
        }
        return null;
    }

    public static <T> CompletableFuture<T> failed(Errno errno, String message) {
        return CompletableFuture.failedFuture(new BlockDeviceException(errno, message));
    }

    public static CompletableFuture<Void> done() {
        return CompletableFuture.completedFuture(null);
    }
}
