package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/** `create`'s first step: fresh superblocks and an empty write-intent bitmap on every member. */
final class ArrayFormat {
    record Created(UUID array, UUID[] ids, BitmapHeader header) {
    }

    private ArrayFormat() {
    }

    static Created write(List<Member> members, ArrayGeometry geometry, ArrayOptions options) throws IOException {
        if (members.size() != geometry.groups() * geometry.copies()) {
            throw new IllegalArgumentException(geometry.groups() + " groups of " + geometry.copies() + " copies need "
                    + geometry.groups() * geometry.copies() + " members, got " + members.size());
        }
        UUID array = UUID.randomUUID();
        UUID[] ids = new UUID[members.size()];
        List<MemberRole> roles = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            Member m = members.get(i);
            if (m.device().size() < geometry.memberSize()) {
                throw new IOException("member " + m.name() + " has " + m.device().size() + " bytes; the array needs "
                        + geometry.memberSize() + " on each member");
            }
            ids[i] = UUID.randomUUID();
            roles.add(new MemberRole(ids[i], MemberRole.State.ACTIVE));
        }
        BitmapHeader header = BitmapHeader.forData(geometry.memberDataSize(), options.bitmapRegionSize(), 1);
        byte[] emptyPage = new byte[BitmapHeader.PAGE_SIZE];
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            BlockDevice d = members.get(i).device();
            Superblock sb = new Superblock(array, ids[i], i / geometry.copies(), i % geometry.copies(), geometry, 1, true, roles);
            CompletableFuture<Void> w = MetadataIo.write(d, sb).thenCompose(x -> MetadataIo.writeBitmapHeader(d, header));
            for (int p = 0; p < BitmapHeader.pagesFor(header.regions()); p++) {
                int page = p;
                w = w.thenCompose(x -> MetadataIo.writeBitmapPage(d, page, emptyPage));
            }
            writes.add(w);
        }
        ReplicatedArray.join(io.nbdvault.core.Futures.all(writes));
        return new Created(array, ids, header);
    }
}
