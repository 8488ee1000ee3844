package io.nbdvault.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;

/**
 * How a replica connection that nbdvault gives up on (requests past their deadline, a reply that
 * breaks the protocol, a target that stopped answering) is closed: reset, not drained. With
 * SO_LINGER 0 the kernel drops what it has not sent yet and resets the connection. A graceful close
 * would leave the queued requests to the kernel, which sends them once a link that went down comes
 * back; a write that the mirror already counted as failed on that copy, and resynchronised since
 * from the write-intent bitmap, would then land on the replica after the resync: old data over new.
 * The chaos run's netns-link-down once found a copy so different after recovery, and the replica's
 * nbdkit logged the late writes ("write reply: NBD_CMD_WRITE: Broken pipe").
 *
 * <p>Over a unix socket there is no such queue (a write is in the peer's receive buffer at once)
 * and the option is ignored.
 */
public final class AbandonedConnection {
    private AbandonedConnection() {
    }

    /** Resets {@code channel}'s connection: nothing it has not sent yet is sent. Any thread. */
    public static void reset(Channel channel) {
        if (channel.isOpen()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (ChannelException closedMeanwhile) {
                // closed by another path between the check and the option: nothing is left to send
            }
        }
        channel.close();
    }
}
