package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.WriteFlags;
import io.nbdvault.transport.TransportContext;
import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Shared helpers of the tgtd tests: a transport context and a write/read/verify workout with a model of the LUN. */
final class IscsiTargets {
    static final long LUN_SIZE = 64L << 20;

    private IscsiTargets() {
    }

    static TransportContext context(Duration timeout) {
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(timeout), p -> null);
    }

    static BlockDevice open(TransportContext ctx, String uri) throws Exception {
        return ctx.open(uri).get(30, TimeUnit.SECONDS);
    }

    static Path lunFile(Path dir, String name) throws Exception {
        Path f = dir.resolve(name);
        try (java.io.RandomAccessFile r = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(LUN_SIZE);
        }
        return f;
    }

    /**
     * Many writes in flight at once (sizes from one block to 3.5 MiB, some FUA), zeroes and a
     * flush, then everything read back and compared with the model; returns the model.
     */
    static byte[] workout(BlockDevice d, long seed) throws Exception {
        return workout(d, seed, new byte[(int) d.size()]);
    }

    /** As above, on a device whose current contents are {@code model} (updated in place). */
    static byte[] workout(BlockDevice d, long seed, byte[] model) throws Exception {
        int bs = d.blockSize();
        Random rnd = new Random(seed);
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        List<ByteBuf> buffers = new ArrayList<>();
        int slot = 4 << 20;
        for (int s = 0; s < 14; s++) {
            int size = switch (s % 5) {
                case 0 -> bs;
                case 1 -> 64 << 10;
                case 2 -> 1 << 20;
                case 3 -> (1 << 20) + 3 * bs;
                default -> (3 << 20) + (1 << 19);
            };
            long offset = (long) s * slot + (long) rnd.nextInt((slot - size) / bs + 1) * bs;
            byte[] data = new byte[size];
            rnd.nextBytes(data);
            System.arraycopy(data, 0, model, (int) offset, size);
            ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(size).writeBytes(data);
            buffers.add(b);
            writes.add(d.write(offset, b, s % 3 == 0 ? WriteFlags.FUA : 0));
        }
        // 64 small writes in the last slots, all in flight together
        long base = 14L * slot;
        for (int i = 0; i < 64; i++) {
            byte[] data = new byte[bs];
            rnd.nextBytes(data);
            long offset = base + (long) i * 2 * bs;
            System.arraycopy(data, 0, model, (int) offset, bs);
            ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(bs).writeBytes(data);
            buffers.add(b);
            writes.add(d.write(offset, b, 0));
        }
        try {
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } finally {
            buffers.forEach(ByteBuf::release);
        }
        // zeroes over part of the first big write
        long zeroAt = 2L * slot;
        d.writeZeroes(zeroAt, 256L * bs, 0).get(30, TimeUnit.SECONDS);
        java.util.Arrays.fill(model, (int) zeroAt, (int) zeroAt + 256 * bs, (byte) 0);
        d.flush().get(30, TimeUnit.SECONDS);
        assertImage(d, model);
        return model;
    }

    /** Reads the whole device (1 MiB and 3 MiB at a time, in flight together) and compares it with the model. */
    static void assertImage(BlockDevice d, byte[] model) throws Exception {
        int chunk = 3 << 20;
        List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
        for (long pos = 0; pos < model.length; pos += chunk) {
            reads.add(d.read(pos, (int) Math.min(chunk, model.length - pos)));
        }
        long pos = 0;
        int consumed = 0;
        try {
            for (CompletableFuture<ByteBuf> r : reads) {
                consumed++;
                ByteBuf b = r.get(60, TimeUnit.SECONDS);
                try {
                    byte[] got = new byte[b.readableBytes()];
                    b.getBytes(b.readerIndex(), got);
                    byte[] want = java.util.Arrays.copyOfRange(model, (int) pos, (int) pos + got.length);
                    if (!java.util.Arrays.equals(want, got)) {
                        int first = java.util.Arrays.mismatch(want, got);
                        int last = first;
                        for (int i = got.length - 1; i > first; i--) {
                            if (want[i] != got[i]) {
                                last = i;
                                break;
                            }
                        }
                        byte[] needle = java.util.Arrays.copyOfRange(got, first, first + 64);
                        String found = "";
                        for (int at = 0; at + 64 <= model.length; at += 512) {
                            if (java.util.Arrays.equals(needle, java.util.Arrays.copyOfRange(model, at, at + 64))) {
                                found += " (the model has those bytes at " + at + ")";
                            }
                        }
                        assertArrayEquals(want, got, found + " data read back at " + pos + " differs from " + (pos + first)
                                + " to " + (pos + last));
                    }
                    pos += got.length;
                } finally {
                    b.release();
                }
            }
        } finally {
            // release what a failed comparison left unread
            reads.subList(consumed, reads.size()).forEach(r -> r.thenAccept(ByteBuf::release));
        }
        assertEquals(model.length, pos);
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    static String sha256(Path file) throws Exception {
        return sha256(Files.readAllBytes(file));
    }
}
