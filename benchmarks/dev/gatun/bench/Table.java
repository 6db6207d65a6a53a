package dev.gatun.bench;

import java.util.List;

/** The plain-text table `gatun bench` prints. */
final class Table {
    private Table() {}

    static String render(List<OpBench.Row> rows, double copyGigabytesPerSecond) {
        StringBuilder out = new StringBuilder();
        String format = "%-8s %-6s %-6s %-11s %12s %10s %12s%n";
        out.append(String.format(format, "op", "device", "dtype", "shape", "time (ms)", "GB/s", "% copy BW"));
        for (OpBench.Row r : rows) {
            out.append(String.format(format, r.op(), r.device(), r.dtype(), r.shape(),
                    String.format("%.3f", r.seconds() * 1e3), String.format("%.2f", r.gigabytesPerSecond()),
                    String.format("%.1f%%", 100 * r.gigabytesPerSecond() / copyGigabytesPerSecond)));
        }
        return out.toString();
    }
}
