package io.nbdvault.transport.iscsi;

import io.netty.buffer.ByteBuf;

/**
 * What a SCSI command came back with: its status, its sense data (CHECK CONDITION), and for reads
 * the data, owned by the receiver of this result (null when none was asked for).
 */
public record ScsiResult(int status, byte[] sense, ByteBuf data) {
    public static final int GOOD = 0x00;
    public static final int CHECK_CONDITION = 0x02;
    public static final int BUSY = 0x08;
    public static final int RESERVATION_CONFLICT = 0x18;
    public static final int TASK_SET_FULL = 0x28;

    public void release() {
        if (data != null) {
            data.release();
        }
    }
}
