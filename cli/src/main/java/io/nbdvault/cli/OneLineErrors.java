package io.nbdvault.cli;

import picocli.CommandLine;

/**
 * Turns an exception escaping a command into one clear line on stderr and exit code 1; the stack
 * trace only appears with NBDVAULT_DEBUG=1. Messages never carry key material: layers that hold
 * keys do not put them in exception text.
 */
final class OneLineErrors implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parseResult) {
        Throwable cause = e;
        while ((cause instanceof java.util.concurrent.CompletionException
                || cause instanceof java.util.concurrent.ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        cmd.getErr().println("nbdvault " + cmd.getCommandName() + ": " + message);
        if ("1".equals(System.getenv("NBDVAULT_DEBUG"))) {
            cause.printStackTrace(cmd.getErr());
        }
        return 1;
    }
}
