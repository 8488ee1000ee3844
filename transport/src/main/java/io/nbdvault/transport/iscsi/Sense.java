package io.nbdvault.transport.iscsi;

import io.nbdvault.core.BlockDeviceException;
import io.nbdvault.core.Errno;

/**
 * SCSI sense data (fixed 0x70/0x71 and descriptor 0x72/0x73 formats, SPC-4 §4.5) decoded into a
 * clear error: the key, additional sense code and, where given, the LBA it concerns.
 */
public record Sense(int key, int asc, int ascq, long information, boolean informationValid) {
    public static final int NO_SENSE = 0x0;
    public static final int RECOVERED_ERROR = 0x1;
    public static final int NOT_READY = 0x2;
    public static final int MEDIUM_ERROR = 0x3;
    public static final int HARDWARE_ERROR = 0x4;
    public static final int ILLEGAL_REQUEST = 0x5;
    public static final int UNIT_ATTENTION = 0x6;
    public static final int DATA_PROTECT = 0x7;
    public static final int ABORTED_COMMAND = 0xb;

    /** Parses sense bytes; null when there are too few to say anything. */
    public static Sense parse(byte[] s) {
        if (s == null || s.length < 2) {
            return null;
        }
        int code = s[0] & 0x7f;
        if ((code == 0x70 || code == 0x71) && s.length >= 3) {
            int asc = s.length > 12 ? s[12] & 0xff : 0;
            int ascq = s.length > 13 ? s[13] & 0xff : 0;
            long info = 0;
            boolean valid = (s[0] & 0x80) != 0 && s.length >= 7;
            if (valid) {
                info = (s[3] & 0xffL) << 24 | (s[4] & 0xffL) << 16 | (s[5] & 0xffL) << 8 | (s[6] & 0xffL);
            }
            return new Sense(s[2] & 0x0f, asc, ascq, info, valid);
        }
        if ((code == 0x72 || code == 0x73) && s.length >= 4) {
            long info = 0;
            boolean valid = false;
            int end = Math.min(s.length, 8 + (s.length > 7 ? s[7] & 0xff : 0));
            for (int d = 8; d + 1 < end; d += 2 + (s[d + 1] & 0xff)) {
                if (s[d] == 0 && d + 12 <= end && (s[d + 2] & 0x80) != 0) {
                    for (int i = 0; i < 8; i++) {
                        info = info << 8 | (s[d + 4 + i] & 0xff);
                    }
                    valid = true;
                }
            }
            return new Sense(s[1] & 0x0f, s[2] & 0xff, s[3] & 0xff, info, valid);
        }
        return null;
    }

    /** A sentence for the user, e.g. "medium error at LBA 1234 (unrecovered read error)". */
    public String describe() {
        String where = informationValid ? " at LBA " + information : "";
        String code = String.format(" (ASC/ASCQ 0x%02x/0x%02x%s)", asc, ascq, ascText());
        return switch (key) {
            case NOT_READY -> "not ready" + code;
            case MEDIUM_ERROR -> "medium error" + where + code;
            case HARDWARE_ERROR -> "hardware error" + where + code;
            case ILLEGAL_REQUEST -> "illegal request" + code;
            case UNIT_ATTENTION -> "unit attention" + code;
            case DATA_PROTECT -> "write protected" + code;
            case ABORTED_COMMAND -> "command aborted by the target" + code;
            default -> String.format("sense key 0x%x", key) + where + code;
        };
    }

    private String ascText() {
        return switch (asc << 8 | ascq) {
            case 0x1100 -> ", unrecovered read error";
            case 0x0c00 -> ", write error";
            case 0x2000 -> ", invalid command operation code";
            case 0x2100 -> ", LBA out of range";
            case 0x2400 -> ", invalid field in CDB";
            case 0x2500 -> ", logical unit not supported";
            case 0x2700 -> ", write protected";
            case 0x2900 -> ", power on or reset";
            case 0x2a09 -> ", capacity data has changed";
            case 0x3a00 -> ", medium not present";
            case 0x0400 -> ", cause not reportable";
            default -> "";
        };
    }

    /** The errno the NBD layer reports for it. */
    public Errno errno() {
        return switch (key) {
            case DATA_PROTECT -> Errno.EPERM;
            case ILLEGAL_REQUEST -> asc == 0x20 || asc == 0x24 ? Errno.ENOTSUP : Errno.EINVAL;
            default -> Errno.EIO;
        };
    }

    public BlockDeviceException toException(String peer) {
        return new BlockDeviceException(errno(), peer + ": " + describe());
    }
}
