package dev.gatun.bench;

import java.util.List;
import java.util.Locale;

/** The plain-text table and the JSON rows `gatun bench` writes. */
final class Table {
    private Table() {}

    static String render(List<BenchRow> rows) {
        StringBuilder out = new StringBuilder();
        String format = "%-8s %-6s %-5s %-26s %11s %10s %-8s %9s %-9s %11s %9s%n";
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

    /** One JSON object per row: op, device, dtype, shape, size, size_unit, seconds, rate, rate_unit, ceiling, peer, peer_seconds. */
    static String json(List<BenchRow> rows) {
        StringBuilder out = new StringBuilder("[\n");
        for (int i = 0; i < rows.size(); i++) {
            BenchRow r = rows.get(i);
            out.append(String.format(Locale.ROOT,
                    "  {\"op\": %s, \"device\": %s, \"dtype\": %s, \"shape\": %s, \"size\": %.6g, \"size_unit\": %s, \"seconds\": %.9g, \"rate\": %.6g, \"rate_unit\": %s, "
                            + "\"ceiling\": %.6g, \"ceiling_name\": %s, \"peer\": %s, \"peer_seconds\": %s}%s%n",
                    quote(r.op()), quote(r.device()), quote(r.dtype()), quote(r.shape()), r.size(), quote(r.sizeUnit()), r.seconds(), r.rate(), quote(r.rateUnit()),
                    r.ceiling(), quote(r.ceilingName()), r.peer() == null ? "null" : quote(r.peer()),
                    r.peerSeconds() == null ? "null" : String.format(Locale.ROOT, "%.9g", r.peerSeconds()), i + 1 < rows.size() ? "," : ""));
        }
        return out.append("]\n").toString();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
