package io.nbdvault.cli;

import picocli.CommandLine;

/** Reports the version Maven wrote into the jar's manifest. */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = Main.class.getPackage().getImplementationVersion();
        return new String[] {"nbdvault " + (version == null ? "development build" : version)};
    }
}
