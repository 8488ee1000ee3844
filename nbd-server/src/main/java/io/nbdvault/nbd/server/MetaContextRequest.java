package io.nbdvault.nbd.server;

import io.nbdvault.nbd.protocol.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Payload of LIST_META_CONTEXT / SET_META_CONTEXT: an export name and the context queries. */
record MetaContextRequest(String exportName, List<String> queries) {

    /** Null when the lengths inside the payload do not add up. */
    static MetaContextRequest parse(byte[] data) {
        ByteBuf in = Unpooled.wrappedBuffer(data);
        String name = readString(in);
        if (name == null || in.readableBytes() < 4) {
            return null;
        }
        long count = in.readUnsignedInt();
        List<String> queries = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            String q = readString(in);
            if (q == null) {
                return null;
            }
            queries.add(q);
        }
        return in.isReadable() ? null : new MetaContextRequest(name, queries);
    }

    /**
     * Whether base:allocation is among the contexts asked for. An empty LIST means "everything";
     * "base:" lists every context of the base namespace; SET needs exact names.
     */
    boolean selectsBaseAllocation(boolean set) {
        if (queries.isEmpty()) {
            return !set;
        }
        for (String q : queries) {
            if (q.equals(Nbd.META_BASE_ALLOCATION) || (!set && q.equals("base:"))) {
                return true;
            }
        }
        return false;
    }

    private static String readString(ByteBuf in) {
        if (in.readableBytes() < 4) {
            return null;
        }
        long length = in.readUnsignedInt();
        if (length > in.readableBytes() || length > 4096) {
            return null;
        }
        return in.readCharSequence((int) length, StandardCharsets.UTF_8).toString();
    }
}
