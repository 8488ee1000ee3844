package io.nbdvault.nbd.server;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Stops event loops only after the connections on them are closed and the loops have run what the
 * closes queued. A connection left to a loop's own shutdown is closed late: io_uring defers a close
 * until the channel's pending reads and writes are cancelled, and when that completes only in the
 * loop's final cleanup, the loop no longer takes the channelInactive the close queues (so we read
 * Netty 4.2's io_uring code). A decoder then never releases the bytes it holds, and whoever waits on
 * the connection hears of its end only as the loop stops, or never. CI's leak detector once caught
 * such a decoder's bytes: a truncated iSCSI PDU from a hostile target that hung up as its test ended.
 *
 * <p>Threads: any but the loops' own (it waits for them).
 */
public final class OrderlyShutdown {
    private static final Logger LOG = Logger.getLogger(OrderlyShutdown.class.getName());

    private OrderlyShutdown() {
    }

    /**
     * Closes {@code channels}, waits (at most {@code millis} for each step) for the closes and then for
     * each of {@code loops} to have run the tasks they queued, and shuts the loops down.
     */
    public static void closeThenStop(ChannelGroup channels, EventLoopGroup loops, long millis) {
        if (!channels.close().awaitUninterruptibly(millis, TimeUnit.MILLISECONDS)) {
            LOG.warning("closing " + channels.name() + " took more than " + millis + " ms");
        }
        settle(loops, millis);
        loops.shutdownGracefully(0, Math.max(1, millis / 1000), TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * Waits until each loop has run the tasks queued on it before this call: what a close completed
     * meanwhile queued (its channelInactive, the listeners' hand-overs) is queued by the time a task
     * of ours runs, so the task that task queues runs after it.
     */
    static void settle(EventLoopGroup loops, long millis) {
        List<Future<?>> settled = new ArrayList<>();
        for (EventExecutor loop : loops) {
            Promise<Void> done = loop.newPromise();
            try {
                loop.execute(() -> loop.execute(() -> done.setSuccess(null)));
                settled.add(done);
            } catch (RejectedExecutionException stopped) {
                // already shutting down: nothing more of ours would run there
            }
        }
        settled.forEach(f -> f.awaitUninterruptibly(millis, TimeUnit.MILLISECONDS));
    }
}
