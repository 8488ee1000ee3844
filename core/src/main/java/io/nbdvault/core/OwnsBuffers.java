package io.nbdvault.core;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * A protocol message that owns the buffers it carries, and is reference counted through them: so
 * Netty's pipeline releases them when the message is dropped (a write to a closed channel, an
 * inbound message nobody handled), as it does for its own messages. Messages are records; this
 * gives them Netty's reference counting without a base class.
 */
public interface OwnsBuffers extends ReferenceCounted {
    /** The buffers this message owns; entries may be null. */
    ByteBuf[] buffers();

    @Override
    default int refCnt() {
        for (ByteBuf b : buffers()) {
            if (b != null) {
                return b.refCnt();
            }
        }
        return 1;
    }

    @Override
    default OwnsBuffers retain() {
        return retain(1);
    }

    @Override
    default OwnsBuffers retain(int increment) {
        for (ByteBuf b : buffers()) {
            if (b != null) {
                b.retain(increment);
            }
        }
        return this;
    }

    @Override
    default OwnsBuffers touch() {
        return touch(null);
    }

    @Override
    default OwnsBuffers touch(Object hint) {
        for (ByteBuf b : buffers()) {
            if (b != null) {
                b.touch(hint);
            }
        }
        return this;
    }

    @Override
    default boolean release() {
        return release(1);
    }

    @Override
    default boolean release(int decrement) {
        boolean freed = false;
        for (ByteBuf b : buffers()) {
            if (b != null) {
                freed |= b.release(decrement);
            }
        }
        return freed;
    }
}
