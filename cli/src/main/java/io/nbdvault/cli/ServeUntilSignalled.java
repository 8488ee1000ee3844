package io.nbdvault.cli;

import io.nbdvault.nbd.server.NbdServer;

import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * Keeps a server running until SIGINT/SIGTERM, then shuts it down gracefully: requests in flight
 * are answered, the device is flushed and closed. Exit code 0 after a clean shutdown.
 */
final class ServeUntilSignalled {
    private static final Logger LOG = Logger.getLogger(ServeUntilSignalled.class.getName());

    private ServeUntilSignalled() {
    }

    static int run(NbdServer server, AutoCloseable resources, String readyMessage) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            // Plain stderr: the JDK's own shutdown hook may already have closed the logging handlers.
            System.err.println("nbdvault: signal received, shutting down");
            server.close();
            try {
                resources.close();
            } catch (Exception e) {
                System.err.println("nbdvault: warning: error while closing: " + e.getMessage());
            }
            System.err.println("nbdvault: stopped cleanly");
            stopped.countDown();
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        LOG.info(readyMessage);
        server.closeFuture().join();
        stopped.await();
        return 0;
    }
}
