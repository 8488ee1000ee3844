package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.Capabilities;
import io.nbdvault.core.Extent;
import io.nbdvault.core.Futures;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * RAID-0: chunk c of the volume lives on group c mod G at offset (c div G) × chunk. Requests are
 * cut at chunk boundaries and the pieces run in parallel; reads are reassembled without copying.
 * Pure address mapping: no state, no locks; continuations run where the groups complete.
 */
public final class StripedDevice implements BlockDevice {
    private final List<BlockDevice> groups;
    private final int chunkSize;
    private final long size;

    public StripedDevice(List<BlockDevice> groups, int chunkSize) {
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("a stripe needs at least one group");
        }
        if (chunkSize < 4096 || Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunk size must be a power of two of at least 4096: " + chunkSize);
        }
        long smallest = groups.stream().mapToLong(BlockDevice::size).min().orElseThrow();
        this.groups = List.copyOf(groups);
        this.chunkSize = chunkSize;
        this.size = (smallest / chunkSize) * chunkSize * groups.size();
    }

    /** One contiguous part of a request on one group. */
    record Piece(int group, long groupOffset, long logicalOffset, int length) {
    }

    List<Piece> pieces(long offset, long length) {
        List<Piece> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long chunk = pos / chunkSize;
            int within = (int) (pos % chunkSize);
            int n = (int) Math.min(chunkSize - within, end - pos);
            int g = (int) (chunk % groups.size());
            out.add(new Piece(g, (chunk / groups.size()) * chunkSize + within, pos, n));
            pos += n;
        }
        return out;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return groups.stream().mapToInt(BlockDevice::blockSize).max().orElse(512);
    }

    @Override
    public Capabilities capabilities() {
        Capabilities c = groups.get(0).capabilities();
        for (BlockDevice g : groups) {
            c = c.and(g.capabilities());
        }
        return c;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        List<Piece> parts = pieces(offset, length);
        if (parts.size() == 1) {
            Piece p = parts.get(0);
            return groups.get(p.group()).read(p.groupOffset(), p.length());
        }
        List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
        for (Piece p : parts) {
            reads.add(groups.get(p.group()).read(p.groupOffset(), p.length()));
        }
        return Futures.concat(reads);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (Piece p : pieces(offset, data.readableBytes())) {
            ByteBuf slice = data.slice(data.readerIndex() + (int) (p.logicalOffset() - offset), p.length());
            writes.add(groups.get(p.group()).write(p.groupOffset(), slice, flags));
        }
        return all(writes);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return all(groups.stream().map(BlockDevice::flush).toList());
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, int flags) {
        return ranged(offset, length, (g, o, n) -> g.trim(o, n, flags));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
        return ranged(offset, length, (g, o, n) -> g.writeZeroes(o, n, flags));
    }

    @Override
    public CompletableFuture<List<Extent>> blockStatus(long offset, long length) {
        // Answer for the first chunk only: the protocol allows a shorter answer, and it is exact.
        Piece first = pieces(offset, length).get(0);
        return groups.get(first.group()).blockStatus(first.groupOffset(), first.length());
    }

    private interface RangeOp {
        CompletableFuture<Void> apply(BlockDevice group, long offset, long length);
    }

    /** Trim and zeroes over many chunks: merged into one range per group where the chunks are adjacent. */
    private CompletableFuture<Void> ranged(long offset, long length, RangeOp op) {
        List<CompletableFuture<Void>> ops = new ArrayList<>();
        long[] start = new long[groups.size()];
        long[] run = new long[groups.size()];
        java.util.Arrays.fill(start, -1);
        for (Piece p : pieces(offset, length)) {
            int g = p.group();
            if (start[g] >= 0 && start[g] + run[g] == p.groupOffset()) {
                run[g] += p.length();
            } else {
                if (start[g] >= 0) {
                    ops.add(op.apply(groups.get(g), start[g], run[g]));
                }
                start[g] = p.groupOffset();
                run[g] = p.length();
            }
        }
        for (int g = 0; g < groups.size(); g++) {
            if (start[g] >= 0) {
                ops.add(op.apply(groups.get(g), start[g], run[g]));
            }
        }
        return all(ops);
    }

    static CompletableFuture<Void> all(List<CompletableFuture<Void>> futures) {
        return Futures.all(futures);
    }

    @Override
    public void close() {
        groups.forEach(BlockDevice::close);
    }
}
