package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Writes one mirror group's bitmap to the metadata area of each of its copies in service (through
 * each member's metadata view, which carries the request deadline). A copy that cannot take a
 * bitmap write is failed (its bitmap would lie); a page or header write fails only if no copy took
 * it, a flush if any copy failed it ({@link FanOut}'s rule).
 */
final class GroupBitmapStore implements WriteIntentBitmap.Store {
    private final Membership membership;
    private final CopySet copies;
    private final int group;

    GroupBitmapStore(Membership membership, CopySet copies, int group) {
        this.membership = membership;
        this.copies = copies;
        this.group = group;
    }

    @Override
    public CompletableFuture<Void> writePage(int page, byte[] bytes) {
        return onEach(d -> MetadataIo.writeBitmapPage(d, page, bytes), false, "bitmap page write");
    }

    @Override
    public CompletableFuture<Void> writeHeader(BitmapHeader header) {
        return onEach(d -> MetadataIo.writeBitmapHeader(d, header), false, "bitmap header write");
    }

    @Override
    public CompletableFuture<Void> flushCopies() {
        return onEach(BlockDevice::flush, true, "flush before clearing the bitmap");
    }

    private CompletableFuture<Void> onEach(Function<BlockDevice, CompletableFuture<Void>> op, boolean requireAll, String what) {
        int first = group * copies.count();
        List<Integer> inService = new ArrayList<>();
        List<BlockDevice> devices = new ArrayList<>();
        for (int c = 0; c < copies.count(); c++) {
            MemberIo io = membership.slot(first + c).io;
            if (io != null && copies.isLive(c)) {
                inService.add(c);
                devices.add(io.metadata());
            }
        }
        return FanOut.onEach(inService, c -> op.apply(devices.get(inService.indexOf(c))), copies::fail, requireAll, what);
    }
}
