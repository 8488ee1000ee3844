package io.nbdvault.replication;

import io.nbdvault.core.BlockDevice;
import io.nbdvault.core.DeadlineDevice;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.logging.Logger;

/** Finding members from the addresses their peers recorded ({@link AddressBook}), like `mdadm --assemble --scan`. */
final class MemberDiscovery {
    private static final Logger LOG = Logger.getLogger(MemberDiscovery.class.getName());

    private MemberDiscovery() {
    }

    /**
     * The recorded addresses of the slots no member of {@code given} holds. Blocks (for the CLI,
     * before assembly); unreadable metadata is skipped: this only finds members, assembly still
     * checks every one.
     */
    static List<String> recordedAddresses(List<Member> given, Duration deadline) {
        Map<Integer, String> recorded = new TreeMap<>();
        Set<Integer> held = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (Member m : given) {
            names.add(m.name());
            BlockDevice d = new DeadlineDevice(m.device(), deadline, m.name());
            try {
                Superblock sb = ReplicatedArray.join(MetadataIo.read(d));
                held.add(sb.slot());
                AddressBook book = ReplicatedArray.join(MetadataIo.readAddresses(d));
                if (book != null && book.addresses().size() == sb.roles().size()) {
                    for (int i = 0; i < book.addresses().size(); i++) {
                        if (!book.addresses().get(i).isEmpty()) {
                            recorded.putIfAbsent(i, book.addresses().get(i));
                        }
                    }
                }
            } catch (IOException e) {
                LOG.fine("no recorded addresses on " + m.name() + ": " + e.getMessage());
            }
        }
        List<String> out = new ArrayList<>();
        recorded.forEach((slot, address) -> {
            if (!held.contains(slot) && !names.contains(address) && !out.contains(address)) {
                out.add(address);
            }
        });
        return out;
    }

    /** Missing members keep the address their peers recorded, so the book rewritten at assembly does not forget them. */
    static void keepRecordedAddresses(Membership membership, Member[] present, Duration deadline) {
        for (Member m : present) {
            if (m == null) {
                continue;
            }
            try {
                AddressBook book = ReplicatedArray.join(MetadataIo.readAddresses(new DeadlineDevice(m.device(), deadline, m.name())));
                if (book != null && book.addresses().size() == membership.size()) {
                    for (int i = 0; i < book.addresses().size(); i++) {
                        membership.slot(i).address = book.addresses().get(i);
                    }
                    return;
                }
            } catch (IOException e) {
                LOG.fine("no address book on " + m.name() + ": " + e.getMessage());
            }
        }
    }
}
