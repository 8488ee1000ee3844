package io.nbdvault.nbd.server;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The exports of a server by name; the empty name means the first (default) export. */
final class Exports {
    private final Map<String, NbdExport> byName = new LinkedHashMap<>();

    Exports(List<NbdExport> exports) {
        for (NbdExport e : exports) {
            if (byName.putIfAbsent(e.name(), e) != null) {
                throw new IllegalArgumentException("two exports named '" + e.name() + "'");
            }
        }
    }

    NbdExport find(String name) {
        NbdExport e = byName.get(name);
        if (e == null && name.isEmpty() && !byName.isEmpty()) {
            return byName.values().iterator().next();
        }
        return e;
    }

    Iterable<NbdExport> all() {
        return byName.values();
    }

    boolean isEmpty() {
        return byName.isEmpty();
    }
}
