package io.nbdvault.transport.iscsi;

/**
 * The session parameters a login settled on.
 *
 * @param targetMaxRecvDataSegment the largest data segment the target accepts from us
 * @param maxBurst                 longest solicited Data-Out sequence (one R2T's worth)
 * @param firstBurst               most unsolicited data (immediate plus unsolicited Data-Out) per command
 * @param immediateData            data may ride in the SCSI Command PDU
 * @param initialR2T               true: no unsolicited Data-Out PDUs, wait for an R2T
 * @param tsih                     the session handle the target assigned
 * @param cmdSn                    first CmdSN of the full-feature phase
 * @param expStatSn                next StatSN expected
 * @param expCmdSn                 the target's ExpCmdSN from the last login response
 * @param maxCmdSn                 the target's MaxCmdSN from the last login response
 */
public record Negotiated(int targetMaxRecvDataSegment, int maxBurst, int firstBurst, boolean immediateData,
                         boolean initialR2T, boolean headerDigest, boolean dataDigest, int tsih, int cmdSn,
                         int expStatSn, int expCmdSn, int maxCmdSn) {
}
