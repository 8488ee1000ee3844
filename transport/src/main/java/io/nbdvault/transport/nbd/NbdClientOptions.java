package io.nbdvault.transport.nbd;

import java.time.Duration;

/**
 * @param requestTimeout how long a replica may take to answer one request before it is considered hung
 * @param connections    connections per replica, used only when the server allows multi-conn; 0 (the default)
 *                       means one per event loop, so that every loop has its own connection to each replica
 * @param minBackoff     first reconnect delay after a connection is lost
 * @param maxBackoff     longest delay between reconnect attempts
 */
public record NbdClientOptions(Duration requestTimeout, int connections, Duration minBackoff, Duration maxBackoff) {
    public static NbdClientOptions defaults() {
        return new NbdClientOptions(Duration.ofSeconds(10), 0, Duration.ofMillis(100), Duration.ofSeconds(5));
    }

    public NbdClientOptions withRequestTimeout(Duration value) {
        return new NbdClientOptions(value, connections, minBackoff, maxBackoff);
    }

    public NbdClientOptions withConnections(int value) {
        if (value < 0) {
            throw new IllegalArgumentException("connections per replica cannot be negative");
        }
        return new NbdClientOptions(requestTimeout, value, minBackoff, maxBackoff);
    }
}
