package io.nbdvault.cli;

import io.nbdvault.replication.ArrayOptions;
import io.nbdvault.replication.Member;
import io.nbdvault.replication.ReplicatedArray;
import io.nbdvault.transport.TransportContext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * Assembles a replicated array from the members a user names, as mdadm --assemble --scan does:
 * the members that answer, plus those the others recorded in their metadata, and degraded when
 * some do not answer (they join when they do). For the commands that open a whole array: serve,
 * attach and the key commands.
 */
final class ArrayAssembler {
    private static final Logger LOG = Logger.getLogger(ArrayAssembler.class.getName());

    private ArrayAssembler() {
    }

    /** The assembled array; on failure every member opened is closed again (the context is the caller's). */
    static ReplicatedArray assemble(TransportContext context, List<String> members, ReplicaOptions replicas,
                                    ArrayOptions options) throws Exception {
        List<Member> opened = List.of();
        try {
            ReplicaOptions.Opened reached = ReplicaOptions.openReachable(context, members);
            opened = new ArrayList<>(reached.reachable());
            if (opened.isEmpty()) {
                throw new IOException("no member could be reached");
            }
            // Members not given are found where the others recorded them.
            List<String> unreachable = new ArrayList<>(reached.unreachable());
            List<String> recorded = ReplicatedArray.recordedAddresses(opened, replicas.timeout()).stream()
                    .filter(address -> !unreachable.contains(address)).toList();
            if (!recorded.isEmpty()) {
                LOG.info("members found in the array's metadata: " + String.join(", ", recorded));
                ReplicaOptions.Opened more = ReplicaOptions.openReachable(context, recorded);
                opened.addAll(more.reachable());
                unreachable.addAll(more.unreachable());
            }
            return ReplicatedArray.assemble(opened, unreachable, options);
        } catch (Exception e) {
            opened.forEach(m -> m.device().close());
            throw e;
        }
    }
}
