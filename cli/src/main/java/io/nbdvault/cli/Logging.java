package io.nbdvault.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** One line per message on stderr: "nbdvault: LEVEL message". NBDVAULT_DEBUG=1 shows debug messages. */
final class Logging {
    private Logging() {
    }

    static void configure() {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        ConsoleHandler handler = new ConsoleHandler();
        boolean debug = "1".equals(System.getenv("NBDVAULT_DEBUG"));
        Level level = debug ? Level.FINE : Level.INFO;
        handler.setLevel(level);
        handler.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String level = r.getLevel() == Level.INFO ? "" : r.getLevel().getName().toLowerCase() + ": ";
                return "nbdvault: " + level + formatMessage(r) + System.lineSeparator();
            }
        });
        root.addHandler(handler);
        root.setLevel(level);
        // Netty's own chatter stays out unless debugging.
        Logger.getLogger("io.netty").setLevel(debug ? Level.FINE : Level.WARNING);
    }
}
