package io.nbdvault.crypto.luks;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.nbdvault.core.MemoryDevice;
import io.nbdvault.crypto.Passphrase;
import io.netty.buffer.Unpooled;

import java.io.IOException;

/**
 * Arbitrary bytes as a LUKS header (with a valid checksum recomputed, so the JSON parser is reached):
 * opening must fail with an IOException, never anything else and never hang or over-allocate.
 */
class LuksHeaderFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void headerParser(byte[] input) throws IOException {
        MemoryDevice device = new MemoryDevice(18L << 20);
        byte[] header = new byte[0x4000];
        System.arraycopy(input, 0, header, 0, Math.min(input.length, header.length));
        if (input.length > 8 && (input[0] & 1) == 0) {
            // Half of the inputs get a well-formed binary header, so the JSON metadata is what is fuzzed.
            String json = new String(input, 1, input.length - 1, java.nio.charset.StandardCharsets.ISO_8859_1);
            try {
                var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
                if (node instanceof com.fasterxml.jackson.databind.node.ObjectNode object) {
                    header = new Luks2Header(0x4000, 1, "", "fuzz", new byte[64], object).encode(0, Luks2Header.MAGIC_PRIMARY);
                }
            } catch (IOException notJson) {
                // Fall through with the raw bytes.
            }
        }
        device.write(0, Unpooled.wrappedBuffer(header), 0).join();
        try (Passphrase p = Passphrase.ofBytes(new byte[] {1, 2, 3})) {
            Luks.open(device, p).close();
        } catch (IOException expected) {
            // A clear refusal is the only acceptable outcome for garbage.
        }
        try {
            Luks.dump(device);
        } catch (IOException expected) {
            // Same for dumping.
        }
    }
}
