package io.nbdvault.transport.iscsi;

import io.nbdvault.transport.nbd.NbdClientOptions;
import io.netty.bootstrap.Bootstrap;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One session per member in a process. A member's ISID is stable, so two devices for the same LUN
 * would each log the other out (the target reinstates the session on every login): opening a
 * member again — as an array does to take a failed member back — first closes the device opened
 * before, which stops its reconnecting, then logs in anew.
 */
public final class IscsiSessions {
    private final Map<String, IscsiDevice> open = new ConcurrentHashMap<>();

    public CompletableFuture<IscsiDevice> open(Bootstrap bootstrap, IscsiTarget target, NbdClientOptions options) {
        String key = target.toString();
        IscsiDevice previous = open.remove(key);
        CompletableFuture<Void> gone = previous == null ? CompletableFuture.completedFuture(null)
                : previous.closeAsync().exceptionally(e -> null);
        return gone.thenCompose(x -> IscsiDevice.connect(bootstrap, target, options)).thenApply(d -> {
            IscsiDevice raced = open.put(key, d);
            if (raced != null && raced != d) {
                raced.closeAsync();
            }
            return d;
        });
    }
}
