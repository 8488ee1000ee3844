package io.nbdvault.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The latency meters of one process's stack, by layer and request type ("nbd", "read"), in the
 * order they were first asked for (outermost layer first when the stack is built top-down), for
 * `nbdvault status`. Layers look their meters up once, when built, and keep them: nothing here is
 * on the data path.
 */
public final class LayerLatencies {
    private final Map<String, LatencyMeter> byKey = new ConcurrentHashMap<>();
    private final List<Entry> order = new CopyOnWriteArrayList<>();

    /** The meter of {@code layer}'s {@code type} requests, created on first use. */
    public LatencyMeter meter(String layer, String type) {
        return byKey.computeIfAbsent(layer + '\0' + type, k -> {
            LatencyMeter m = new LatencyMeter();
            order.add(new Entry(layer, type, m));
            return m;
        });
    }

    /** Every meter that has recorded at least one request, layer by layer in order of each layer's first meter. */
    public List<Layer> snapshot() {
        List<Entry> grouped = new ArrayList<>(order);
        List<String> layers = grouped.stream().map(Entry::layer).distinct().toList();
        grouped.sort(java.util.Comparator.comparingInt(e -> layers.indexOf(e.layer)));
        List<Layer> out = new ArrayList<>();
        for (Entry e : grouped) {
            LatencyMeter.Summary s = e.meter.summary();
            if (s.count() > 0) {
                out.add(new Layer(e.layer, e.type, s.count(), s.p50Micros(), s.p99Micros(), s.p999Micros(), s.maxMicros(),
                        Math.round(s.meanMicros())));
            }
        }
        return out;
    }

    private record Entry(String layer, String type, LatencyMeter meter) {
    }

    /** One layer's requests of one type; latencies in microseconds, over the process's lifetime. */
    public record Layer(String layer, String type, long requests, long p50Micros, long p99Micros, long p999Micros,
                        long maxMicros, long meanMicros) {
    }
}
