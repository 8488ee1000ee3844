package io.nbdvault.replication;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Detects members that ran apart. Assembly records every member it runs without as failed, so a
 * set of members that served while another set was away says so in its superblocks. When member A
 * records B as failed and B records A as failed, each side served without the other: both may
 * have written, and whichever is called "newest", the other side's acknowledged writes would be
 * lost by a resync. That is refused (md would assemble the newer half and drop the other
 * silently; DRBD refuses the same way, with its generation identifiers). The event counters alone
 * cannot tell this from an ordinary failure, where only the survivors record the failed member.
 */
final class SplitBrain {
    private SplitBrain() {
    }

    /** Throws, naming the two sides, unless {@code force}; with it, assembly trusts the newest side. */
    static void refuse(Map<Member, Superblock> found, boolean force) throws InvalidMetadataException {
        List<Map.Entry<Member, Superblock>> all = new ArrayList<>(found.entrySet());
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                Superblock a = all.get(i).getValue();
                Superblock b = all.get(j).getValue();
                if (recordsFailed(a, b) && recordsFailed(b, a) && !force) {
                    throw new InvalidMetadataException("split brain: " + all.get(i).getKey().name() + " (event " + a.events()
                            + ") served without " + all.get(j).getKey().name() + ", and " + all.get(j).getKey().name()
                            + " (event " + b.events() + ") served without " + all.get(i).getKey().name()
                            + "; both sides may hold writes the other lacks. Keep one side: assemble it alone with --force,"
                            + " then add the other members back (they are resynchronised from it)");
                }
            }
        }
    }

    /** Whether {@code viewer}'s superblock records {@code member} (by slot and id) as out of service. */
    private static boolean recordsFailed(Superblock viewer, Superblock member) {
        MemberRole role = viewer.roles().get(member.slot());
        return role.member().equals(member.member()) && role.state() == MemberRole.State.FAILED;
    }
}
