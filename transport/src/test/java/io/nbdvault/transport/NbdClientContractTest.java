package io.nbdvault.transport;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.FileSpace;
import io.nbdvault.core.ForwardingDevice;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.nbd.server.NbdExport;
import io.nbdvault.nbd.server.NbdServer;
import io.nbdvault.testing.BlockDeviceContract;
import io.nbdvault.transport.nbd.NbdClientOptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

/** The NBD replica client keeps the block-device contract against our own server and against nbdkit. */
class NbdClientContractTest {
    @TempDir
    static Path dir;

    /** A client device that also closes what serves it. */
    static BlockDevice closingAlso(BlockDevice client, AutoCloseable... others) {
        return new ForwardingDevice(client) {
            @Override
            public void close() {
                super.close();
                for (AutoCloseable c : others) {
                    try {
                        c.close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
        };
    }

    static TransportContext context() {
        return new TransportContext(NbdClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)), p -> FileSpace.NONE);
    }

    @Nested
    class AgainstNbdvaultExport extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) throws Exception {
            Path socket = dir.resolve("export-" + System.nanoTime() + ".sock");
            NbdServer server = NbdServer.builder().export(new NbdExport("", "contract", new MemoryDevice(size), false))
                    .listenUnix(socket).start();
            TransportContext context = context();
            BlockDevice client = context.open("nbd+unix:///?socket=" + socket).join();
            return closingAlso(client, server, context);
        }
    }

    @Nested
    class AgainstNbdkit extends BlockDeviceContract {
        @Override
        protected BlockDevice newDevice(int size) throws Exception {
            Nbdkit server = Nbdkit.start(dir.resolve("nbdkit-" + System.nanoTime() + ".sock"), "memory", Integer.toString(size));
            TransportContext context = context();
            BlockDevice client = context.open(server.uri()).join();
            return closingAlso(client, server, context);
        }
    }
}
