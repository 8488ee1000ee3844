package io.nbdvault.crypto.luks;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.WriteFlags;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.util.concurrent.CompletionException;

/** Blocking header I/O on a BlockDevice; used only from command threads, never from event loops. */
final class DeviceIo {
    private DeviceIo() {
    }

    static byte[] read(BlockDevice device, long offset, int length) throws IOException {
        if (offset < 0 || offset + length > device.size()) {
            throw new LuksException("device too small: needs bytes up to " + (offset + length) + ", has " + device.size());
        }
        ByteBuf buf = join(device.read(offset, length));
        try {
            byte[] out = new byte[length];
            buf.getBytes(buf.readerIndex(), out);
            return out;
        } finally {
            buf.release();
        }
    }

    static void write(BlockDevice device, long offset, byte[] data) throws IOException {
        join(device.write(offset, Unpooled.wrappedBuffer(data), WriteFlags.FUA));
    }

    static <T> T join(java.util.concurrent.CompletableFuture<T> future) throws IOException {
        try {
            return future.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause.getMessage(), cause);
        }
    }
}
