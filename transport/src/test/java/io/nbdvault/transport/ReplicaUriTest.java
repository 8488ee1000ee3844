package io.nbdvault.transport;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplicaUriTest {
    @Test
    void standardForms() {
        ReplicaUri tcp = ReplicaUri.parse("nbd://storage1:10810/vol%20a");
        assertEquals(ReplicaUri.Kind.NBD_TCP, tcp.kind());
        assertEquals("storage1", tcp.host());
        assertEquals(10810, tcp.port());
        assertEquals("vol a", tcp.export());
        assertEquals(10809, ReplicaUri.parse("nbd://h").port());
        assertEquals("", ReplicaUri.parse("nbd://h").export());
        ReplicaUri unix = ReplicaUri.parse("nbd+unix:///disk?socket=/run/r1.sock");
        assertEquals(Path.of("/run/r1.sock"), unix.socket());
        assertEquals("disk", unix.export());
        assertEquals(Path.of("/srv/r1.img"), ReplicaUri.parse("file:///srv/r1.img").file());
        assertEquals(Path.of("relative.img"), ReplicaUri.parse("relative.img").file());
    }

    @Test
    void badFormsSayWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaUri.parse("nbd+unix:///disk"))
                .getMessage().contains("socket="));
        assertTrue(ReplicaUri.parse("nbds://h:1234/e").tls());
        assertTrue(ReplicaUri.parse("nbds+unix:///e?socket=/run/s").tls());
        assertTrue(!ReplicaUri.parse("nbd://h/e").tls());
        assertEquals(ReplicaUri.Kind.ISCSI, ReplicaUri.parse("iscsi://h/iqn.x/0").kind());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaUri.parse("gopher://x"))
                .getMessage().contains("unknown replica URI scheme"));
        assertThrows(IllegalArgumentException.class, () -> ReplicaUri.parse("nbd://[bad"));
    }
}
