package io.nbdvault.nbd.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Arbitrary bytes into the decoders, in arbitrary slices: the only failure allowed is the codec's
 * own protocol exception, and every decoded message must be internally consistent. Runs the seed
 * corpus under plain JUnit; with JAZZER_FUZZ=1 it fuzzes.
 */
class DecoderFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void handshakeDecoder(byte[] input) {
        feed(new EmbeddedChannel(new HandshakeDecoder()), input, msg -> {
            if (msg instanceof NbdOption option) {
                assertTrue(option.data().length <= io.nbdvault.nbd.protocol.Nbd.MAX_OPTION_LENGTH);
            }
        });
    }

    @FuzzTest(maxDuration = "30s")
    void requestDecoder(byte[] input) {
        feed(new EmbeddedChannel(new RequestDecoder()), input, msg -> {
            NbdRequest r = (NbdRequest) msg;
            assertTrue(r.length() >= 0 && r.length() <= 0xffffffffL);
            if (r.payload() != null) {
                assertTrue(r.payload().readableBytes() == r.length());
            }
        });
    }

    private static void feed(EmbeddedChannel channel, byte[] input, java.util.function.Consumer<Object> check) {
        int pos = 0;
        int step = input.length == 0 ? 1 : 1 + (input[0] & 0x1f);
        try {
            while (pos < input.length) {
                int n = Math.min(step, input.length - pos);
                ByteBuf slice = Unpooled.copiedBuffer(input, pos, n);
                pos += n;
                channel.writeInbound(slice);
                Object msg;
                while ((msg = channel.readInbound()) != null) {
                    try {
                        check.accept(msg);
                    } finally {
                        ReferenceCountUtil.release(msg);
                    }
                }
            }
        } catch (DecoderException e) {
            assertInstanceOf(NbdProtocolException.class, e.getCause(), "unexpected decoder failure");
        }
        try {
            // Closing re-runs the decoder over what is left buffered, which may fail the same way.
            channel.finishAndReleaseAll();
        } catch (DecoderException e) {
            assertInstanceOf(NbdProtocolException.class, e.getCause(), "unexpected decoder failure");
        }
    }
}
