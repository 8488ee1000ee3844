package io.nbdvault.transport.iscsi;

import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The login phase as a small state machine, free of I/O: {@link #start()} gives the first Login
 * Request, {@link #onResponse} takes each Login Response and gives the next request, or null once
 * the full-feature phase is reached ({@link #result()} then holds what was negotiated). Security
 * negotiation uses CHAP (CHAP_A=5) when the member has a user, mutual when it names a target user;
 * operational negotiation offers our limits and InitialR2T=No/ImmediateData=Yes. Keys are never sent
 * twice. Failures are {@link LoginException}s with a message fit for the user (never a secret).
 */
final class Login {
    static final int CSG_SECURITY = 0;
    static final int CSG_OPERATIONAL = 1;
    static final int FULL_FEATURE = 3;
    private static final int FLAG_TRANSIT = 0x80;
    private static final int FLAG_CONTINUE = 0x40;

    /** What we declare we can receive, and offer for bursts. */
    static final int OUR_MAX_RECV = 1 << 20; // one Data-In PDU for a whole 1 MiB READ (our largest command)
    static final int OUR_MAX_BURST = 16776192; // the largest multiple of 1 KiB below 2^24
    static final int OUR_FIRST_BURST = 262144;

    private enum Step { SECURITY_OFFER, CHAP_ALGORITHM, CHAP_RESPONSE, SECURITY_DONE, OPERATIONAL, DONE }

    static final class LoginException extends Exception {
        final boolean authentication;

        LoginException(String message, boolean authentication) {
            super(message);
            this.authentication = authentication;
        }
    }

    private final IscsiTarget target;
    private final byte[] isid;
    private final int itt;
    private final int cmdSn;
    private int expStatSn;
    private int tsih;
    private Step step;
    private int stage = CSG_SECURITY;
    private final java.io.ByteArrayOutputStream partial = new java.io.ByteArrayOutputStream();
    private final Map<String, String> operational = new LinkedHashMap<>();
    private int mutualId;
    private byte[] mutualChallenge;
    private Negotiated result;

    Login(IscsiTarget target, int itt, int cmdSn) {
        this.target = target;
        this.isid = target.isid();
        this.itt = itt;
        this.cmdSn = cmdSn;
    }

    Pdu start() {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("InitiatorName", target.initiatorName());
        keys.put("SessionType", "Normal");
        keys.put("TargetName", target.targetName());
        if (target.chap()) {
            keys.put("AuthMethod", "CHAP");
            step = Step.SECURITY_OFFER;
            return request(CSG_SECURITY, CSG_OPERATIONAL, false, keys);
        }
        keys.put("AuthMethod", "None");
        step = Step.SECURITY_DONE;
        return request(CSG_SECURITY, CSG_OPERATIONAL, true, keys);
    }

    Negotiated result() {
        return result;
    }

    /** The next request, or null when the login is complete. The response is not released here. */
    Pdu onResponse(Pdu response) throws LoginException {
        if (response.opcode() != Pdu.LOGIN_RESPONSE) {
            throw new LoginException(String.format("unexpected PDU (opcode 0x%02x) during login", response.opcode()), false);
        }
        int statusClass = response.byteAt(36);
        int statusDetail = response.byteAt(37);
        if (statusClass != 0) {
            throw new LoginException(status(statusClass, statusDetail), statusClass == 2 && statusDetail == 1);
        }
        expStatSn = response.statSn() + 1;
        tsih = response.shortAt(14);
        byte[] text = new byte[response.content().readableBytes()];
        response.content().getBytes(response.content().readerIndex(), text);
        partial.writeBytes(text);
        int flags = response.flags();
        int csg = (flags >> 2) & 3;
        int nsg = flags & 3;
        boolean transit = (flags & FLAG_TRANSIT) != 0;
        if ((flags & FLAG_CONTINUE) != 0) {
            // The target has more text for this step: ask for it with an empty request.
            if (partial.size() > 64 * 1024) {
                throw new LoginException("login text from the target is too long", false);
            }
            return request(stage, stage == CSG_SECURITY ? CSG_OPERATIONAL : FULL_FEATURE, false, Map.of());
        }
        Map<String, String> keys;
        try {
            keys = TextParameters.parse(partial.toByteArray());
        } catch (IllegalArgumentException e) {
            throw new LoginException("bad login text from the target: " + e.getMessage(), false);
        }
        partial.reset();
        if (csg != stage) {
            throw new LoginException("target answered in login stage " + csg + " instead of " + stage, false);
        }
        if (stage == CSG_SECURITY) {
            return security(keys, transit, nsg, response);
        }
        operational.putAll(keys);
        if (transit && nsg == FULL_FEATURE) {
            finish(response);
            return null;
        }
        return request(CSG_OPERATIONAL, FULL_FEATURE, true, Map.of());
    }

    private Pdu security(Map<String, String> keys, boolean transit, int nsg, Pdu response) throws LoginException {
        switch (step) {
            case SECURITY_OFFER -> {
                String method = keys.get("AuthMethod");
                if ("None".equals(method)) {
                    throw new LoginException("the target does not ask for CHAP, but credentials were given: "
                            + "refusing to send them unauthenticated", true);
                }
                if (!"CHAP".equals(method)) {
                    throw new LoginException("target refused CHAP authentication (AuthMethod=" + method + ")", true);
                }
                step = Step.CHAP_ALGORITHM;
                return request(CSG_SECURITY, CSG_OPERATIONAL, false, Map.of("CHAP_A", Integer.toString(Chap.MD5)));
            }
            case CHAP_ALGORITHM -> {
                if (!Integer.toString(Chap.MD5).equals(keys.get("CHAP_A"))) {
                    throw new LoginException("target does not offer CHAP with MD5 (CHAP_A=" + keys.get("CHAP_A") + ")", true);
                }
                String id = keys.get("CHAP_I");
                String challengeText = keys.get("CHAP_C");
                if (id == null || challengeText == null) {
                    throw new LoginException("target sent no CHAP challenge", true);
                }
                int identifier;
                byte[] challenge;
                try {
                    identifier = Integer.parseInt(id);
                    challenge = Chap.decode(challengeText);
                } catch (IllegalArgumentException e) {
                    throw new LoginException("target sent a malformed CHAP challenge", true);
                }
                if (identifier < 0 || identifier > 255 || challenge.length == 0 || challenge.length > Chap.MAX_CHALLENGE) {
                    throw new LoginException("target sent an invalid CHAP challenge", true);
                }
                Map<String, String> answer = new LinkedHashMap<>();
                answer.put("CHAP_N", target.user());
                answer.put("CHAP_R", Chap.encode(Chap.response(identifier, target.secret(), challenge)));
                if (target.mutualChap()) {
                    mutualId = Chap.identifier();
                    mutualChallenge = Chap.challenge();
                    if (MessageDigest.isEqual(mutualChallenge, challenge)) {
                        throw new LoginException("target reflected our CHAP challenge", true);
                    }
                    answer.put("CHAP_I", Integer.toString(mutualId));
                    answer.put("CHAP_C", Chap.encode(mutualChallenge));
                }
                step = Step.CHAP_RESPONSE;
                return request(CSG_SECURITY, CSG_OPERATIONAL, true, answer);
            }
            case CHAP_RESPONSE -> {
                if (target.mutualChap()) {
                    String name = keys.get("CHAP_N");
                    String r = keys.get("CHAP_R");
                    if (name == null || r == null) {
                        throw new LoginException("target did not authenticate itself (mutual CHAP)", true);
                    }
                    byte[] expected = Chap.response(mutualId, target.targetSecret(), mutualChallenge);
                    byte[] got;
                    try {
                        got = Chap.decode(r);
                    } catch (IllegalArgumentException e) {
                        throw new LoginException("target sent a malformed CHAP response", true);
                    }
                    if (!name.equals(target.targetUser()) || !MessageDigest.isEqual(expected, got)) {
                        throw new LoginException("target failed mutual CHAP authentication (wrong target user or secret)", true);
                    }
                }
                step = Step.SECURITY_DONE;
                return afterSecurity(transit, nsg, response);
            }
            case SECURITY_DONE -> {
                return afterSecurity(transit, nsg, response);
            }
            default -> throw new LoginException("unexpected login response in the security stage", false);
        }
    }

    private Pdu afterSecurity(boolean transit, int nsg, Pdu response) throws LoginException {
        if (!transit) {
            return request(CSG_SECURITY, CSG_OPERATIONAL, true, Map.of());
        }
        if (nsg == FULL_FEATURE) {
            // The target went straight to the full-feature phase: every operational key keeps its default.
            finish(response);
            return null;
        }
        if (nsg != CSG_OPERATIONAL) {
            throw new LoginException("target asked for login stage " + nsg + " after security negotiation", false);
        }
        stage = nsg;
        step = Step.OPERATIONAL;
        return request(CSG_OPERATIONAL, FULL_FEATURE, true, operationalOffer());
    }

    private Map<String, String> operationalOffer() {
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("HeaderDigest", target.headerDigest());
        keys.put("DataDigest", target.dataDigest());
        keys.put("MaxConnections", "1");
        keys.put("InitialR2T", "No");
        keys.put("ImmediateData", "Yes");
        keys.put("MaxRecvDataSegmentLength", Integer.toString(OUR_MAX_RECV));
        keys.put("MaxBurstLength", Integer.toString(OUR_MAX_BURST));
        keys.put("FirstBurstLength", Integer.toString(OUR_FIRST_BURST));
        keys.put("DefaultTime2Wait", "0");
        keys.put("DefaultTime2Retain", "0");
        keys.put("MaxOutstandingR2T", "1");
        keys.put("DataPDUInOrder", "Yes");
        keys.put("DataSequenceInOrder", "Yes");
        keys.put("ErrorRecoveryLevel", "0");
        return keys;
    }

    private void finish(Pdu response) throws LoginException {
        boolean headerDigest = digest("HeaderDigest");
        boolean dataDigest = digest("DataDigest");
        int targetRecv = number("MaxRecvDataSegmentLength", 8192, 512, 16777215);
        int maxBurst = Math.min(OUR_MAX_BURST, number("MaxBurstLength", 262144, 512, 16777215));
        int firstBurst = Math.min(Math.min(OUR_FIRST_BURST, maxBurst), number("FirstBurstLength", 65536, 512, 16777215));
        boolean initialR2T = !"No".equals(operational.getOrDefault("InitialR2T", "Yes"));
        boolean immediate = "Yes".equals(operational.getOrDefault("ImmediateData", "Yes"));
        result = new Negotiated(targetRecv, maxBurst, firstBurst, immediate, initialR2T, headerDigest, dataDigest,
                tsih, cmdSn, expStatSn, response.expCmdSn(), response.maxCmdSn());
        step = Step.DONE;
    }

    private boolean digest(String key) throws LoginException {
        String v = operational.getOrDefault(key, "None");
        if (v.equals("CRC32C")) {
            return true;
        }
        if (v.equals("None")) {
            if (!target.headerDigest().contains("None") && key.equals("HeaderDigest")
                    || !target.dataDigest().contains("None") && key.equals("DataDigest")) {
                throw new LoginException("target refused " + key + "=CRC32C", false);
            }
            return false;
        }
        throw new LoginException("target answered " + key + "=" + v, false);
    }

    private int number(String key, int def, int min, int max) throws LoginException {
        String v = operational.get(key);
        if (v == null || v.equals("Irrelevant") || v.equals("NotUnderstood") || v.equals("Reject")) {
            return def;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new LoginException("target answered " + key + "=" + v, false);
        }
    }

    private Pdu request(int csg, int nsg, boolean transit, Map<String, String> keys) {
        byte[] text = TextParameters.encode(keys);
        return new Pdu.Header(Pdu.LOGIN_REQUEST, true, (transit ? FLAG_TRANSIT : 0) | csg << 2 | (transit ? nsg : 0))
                .u8(2, 0).u8(3, 0).bytes(8, isid).u16(14, 0).u32(16, itt).u16(20, 0)
                .u32(24, cmdSn).u32(28, expStatSn)
                .with(text.length == 0 ? null : Unpooled.wrappedBuffer(text));
    }

    static String status(int statusClass, int detail) {
        String what = switch (statusClass << 8 | detail) {
            case 0x0101 -> "target moved temporarily (redirection is not supported)";
            case 0x0102 -> "target moved permanently (redirection is not supported)";
            case 0x0200 -> "initiator error";
            case 0x0201 -> "authentication failed (wrong CHAP user or secret?)";
            case 0x0202 -> "authorization failure (this initiator may not use the target)";
            case 0x0203 -> "target not found";
            case 0x0204 -> "target removed";
            case 0x0205 -> "unsupported iSCSI version";
            case 0x0206 -> "too many connections";
            case 0x0207 -> "missing parameter";
            case 0x0208 -> "cannot include in session";
            case 0x0209 -> "session type not supported";
            case 0x020a -> "session does not exist";
            case 0x020b -> "invalid request during login";
            case 0x0300 -> "target error";
            case 0x0301 -> "service unavailable";
            case 0x0302 -> "out of resources";
            default -> "login refused";
        };
        return what + String.format(" (status class 0x%02x detail 0x%02x)", statusClass, detail);
    }

    static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
