package io.nbdvault.nbd.server;

import io.nbdvault.core.LayerLatencies;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Every open client connection, how to drain each one for a graceful shutdown, and the in-flight budget they share. */
final class ServerConnections {
    final InFlightBudget budget;
    /** Where connections record each request's latency (layer "nbd", by request type). */
    final LayerLatencies latencies;

    ServerConnections(long inFlightBytes, LayerLatencies latencies) {
        this.budget = new InFlightBudget(inFlightBytes);
        this.latencies = latencies;
    }

    private final ChannelGroup all = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Map<Channel, Runnable> drainers = new ConcurrentHashMap<>();

    void add(Channel channel) {
        all.add(channel);
        channel.closeFuture().addListener(f -> drainers.remove(channel));
    }

    void register(Channel channel, Runnable drain) {
        drainers.put(channel, drain);
    }

    /** Connections in transmission finish what they started; those still negotiating are closed. */
    void drainAll() {
        for (Channel channel : all) {
            Runnable drain = drainers.get(channel);
            if (drain != null) {
                drain.run();
            } else {
                channel.close();
            }
        }
    }

    ChannelGroup channels() {
        return all;
    }
}
