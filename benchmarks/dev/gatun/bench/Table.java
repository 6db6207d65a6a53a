package dev.gatun.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Locale;

/** The plain-text table and the JSON rows `gatun bench` writes. */
final class Table {
    private Table() {}

    static String render(List<BenchRow> rows) {
        StringBuilder out = new StringBuilder();
        String format = "%-8s %-6s %-5s %-26s %11s %10s %-8s %9s %-13s %11s %9s%n";
        out.append(String.format(Locale.ROOT, format, "op", "device", "dtype", "shape", "time (ms)", "rate", "unit",
                "% ceiling", "ceiling", "peer (ms)", "vs peer"));
        for (BenchRow r : rows) {
            out.append(String.format(Locale.ROOT, format, r.op(), r.device(), r.dtype(), r.shape(),
                    String.format(Locale.ROOT, "%.3f", r.seconds() * 1e3), String.format(Locale.ROOT, "%.2f", r.rate()), r.rateUnit(),
                    String.format(Locale.ROOT, "%.1f%%", r.percentOfCeiling()), r.ceilingName(),
                    r.peerSeconds() == null ? "-" : String.format(Locale.ROOT, "%.3f", r.peerSeconds() * 1e3),
                    r.peerSeconds() == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.peerSeconds() / r.seconds())));
        }
        return out.toString();
    }

    /**
     * One JSON object per row (a line each): op, device, dtype, shape, size, size_unit, seconds, rate,
     * rate_unit, ceiling, ceiling_name, peer, peer_seconds (peer and peer_seconds null when no peer ran).
     */
    static String json(List<BenchRow> rows) {
        ObjectMapper mapper = new ObjectMapper();
        StringBuilder out = new StringBuilder("[\n");
        for (int i = 0; i < rows.size(); i++) {
            BenchRow r = rows.get(i);
            ObjectNode o = mapper.createObjectNode().put("op", r.op()).put("device", r.device()).put("dtype", r.dtype()).put("shape", r.shape())
                    .put("size", r.size()).put("size_unit", r.sizeUnit()).put("seconds", r.seconds()).put("rate", r.rate())
                    .put("rate_unit", r.rateUnit()).put("ceiling", r.ceiling()).put("ceiling_name", r.ceilingName())
                    .put("peer", r.peer()).put("peer_seconds", r.peerSeconds());
            try {
                out.append("  ").append(mapper.writeValueAsString(o)).append(i + 1 < rows.size() ? ",\n" : "\n");
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("bench: cannot write row " + r + " as JSON", e);
            }
        }
        return out.append("]\n").toString();
    }
}
