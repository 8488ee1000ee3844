package io.nbdvault.transport.iscsi;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Arbitrary bytes into the PDU decoder (digests on or off, arbitrary slicing), the login text
 * parser and the login state machine: the only failures allowed are the decoder's own
 * exceptions, IllegalArgumentException from the text parser and LoginException from the login.
 * Runs the seed corpus under plain JUnit; with JAZZER_FUZZ=1 it fuzzes.
 */
class IscsiFuzzTest {
    static {
        LeakCheck.paranoid();
    }

    @FuzzTest(maxDuration = "30s")
    void pduDecoder(byte[] input) {
        PduDecoder decoder = new PduDecoder(8192);
        boolean digests = input.length > 0 && (input[0] & 1) != 0;
        decoder.digests(digests, digests);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        int step = input.length == 0 ? 1 : 1 + (input[0] >>> 1 & 0x3f);
        try {
            for (int pos = 0; pos < input.length; pos += step) {
                ch.writeInbound(Unpooled.copiedBuffer(input, pos, Math.min(step, input.length - pos)));
                Object msg;
                while ((msg = ch.readInbound()) != null) {
                    try {
                        Pdu pdu = (Pdu) msg;
                        assertEquals(pdu.dataSegmentLength(), pdu.content().readableBytes());
                        assertTrue(pdu.content().readableBytes() <= 8192);
                        assertTrue(PduDecoder.knownTargetOpcode(pdu.opcode()));
                    } finally {
                        ReferenceCountUtil.release(msg);
                    }
                }
            }
        } catch (DecoderException expected) {
            // a clean protocol error: the connection would be dropped
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void textParser(byte[] input) {
        try {
            var pairs = TextParameters.parse(input);
            pairs.forEach((k, v) -> assertTrue(!k.isEmpty() && k.length() <= TextParameters.MAX_KEY));
            assertEquals(pairs, TextParameters.parse(TextParameters.encode(pairs)));
        } catch (IllegalArgumentException expected) {
            // refused with a message
        }
    }

    /** Login responses made of fuzz: 48 header bytes then text, fed to a CHAP login until it ends or fails. */
    @FuzzTest(maxDuration = "30s")
    void login(byte[] input) {
        IscsiTarget target = new IscsiTarget("127.0.0.1", 3260, "iqn.2024-01.test:fuzz", 1, "user",
                "secretsecret".getBytes(), "tgt", "targetsecret".getBytes(), "CRC32C,None", "None",
                IscsiTarget.DEFAULT_INITIATOR);
        Login login = new Login(target, 1, 1);
        login.start().release();
        int pos = 0;
        try {
            while (pos + 50 <= input.length) {
                byte[] header = Arrays.copyOfRange(input, pos, pos + 48);
                header[0] = (byte) Pdu.LOGIN_RESPONSE;
                int textLength = Math.min(input[pos + 48] & 0xff, input.length - pos - 49);
                ByteBuf text = Unpooled.copiedBuffer(input, pos + 49, textLength);
                pos += 49 + textLength;
                Pdu response = Pdu.of(header, text);
                try {
                    Pdu next = login.onResponse(response);
                    if (next == null) {
                        assertTrue(login.result() != null);
                        return;
                    }
                    next.release();
                } finally {
                    response.release();
                }
            }
        } catch (Login.LoginException expected) {
            // refused with a message
        }
    }
}
