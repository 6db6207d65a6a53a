package dev.gatun.bench;

import dev.gatun.bench.plot.BarChart;
import dev.gatun.bench.plot.LineChart;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The PNG charts of {@code gatun bench --plot DIR}: per op, its rate against the work per call
 * (one line per device and dtype, the ceiling measured at those sizes dashed, the peer as its own
 * line); every row's percentage of its ceiling; and every row that has a peer, as its speed over
 * the peer's.
 */
final class BenchPlots {
    private BenchPlots() {}

    /** Writes the charts into {@code dir} (created when missing) and returns their paths. */
    static List<Path> write(List<BenchRow> rows, String subtitle, Path dir) {
        List<Path> files = new ArrayList<>();
        Map<String, List<BenchRow>> byOp = rows.stream().collect(Collectors.groupingBy(BenchRow::op, LinkedHashMap::new, Collectors.toList()));
        byOp.forEach((op, opRows) -> files.add(rateChart(op, opRows, subtitle).write(dir.resolve("rate-" + op + ".png"))));

        BarChart ceiling = new BarChart("% of the measured ceiling, per row", subtitle, "% of ceiling (FMA peak, copy or read bandwidth)",
                "%.1f%%", 100, "ceiling");
        for (BenchRow r : rows) ceiling.add(label(r) + "  [" + r.ceilingName() + "]", r.percentOfCeiling(), r.device());
        files.add(ceiling.write(dir.resolve("percent-of-ceiling.png")));

        List<BenchRow> peered = rows.stream().filter(r -> r.peerSeconds() != null).toList();
        if (!peered.isEmpty()) {
            BarChart peer = new BarChart("Gatun vs peer: peer time / Gatun time (> 1: Gatun faster)", subtitle, "speed relative to the peer",
                    "%.2fx", 1, "peer");
            for (BenchRow r : peered) peer.add(label(r), r.peerSeconds() / r.seconds(), r.peer());
            files.add(peer.write(dir.resolve("vs-peer.png")));
        }
        return files;
    }

    private static LineChart rateChart(String op, List<BenchRow> rows, String subtitle) {
        BenchRow first = rows.getFirst();
        LineChart chart = new LineChart(op + ": rate vs work per call", subtitle, first.sizeUnit() + " per call (log)",
                first.rateUnit() + " (log)", true, true);
        Map<String, List<BenchRow>> series = rows.stream().collect(Collectors.groupingBy(r -> r.device() + " " + r.dtype(), LinkedHashMap::new,
                Collectors.toList()));
        series.forEach((name, s) -> chart.add("Gatun " + name, xs(s), values(s, BenchRow::rate), LineChart.Style.LINE));
        // a ceiling depends only on the work's size (same bytes, same level of the memory hierarchy): one
        // curve per ceiling (the FMA peak, and the bf16 rows' dot-product or MMA peak where they have one)
        Map<String, TreeMap<Double, Double>> ceilings = new LinkedHashMap<>();
        for (BenchRow r : rows) ceilings.computeIfAbsent(r.ceilingName(), name -> new TreeMap<>()).put(r.size(), r.ceiling());
        ceilings.forEach((name, c) -> chart.add("ceiling: " + name, c.keySet().stream().mapToDouble(Double::doubleValue).toArray(),
                c.values().stream().mapToDouble(Double::doubleValue).toArray(), LineChart.Style.DASHED));
        Map<String, List<BenchRow>> peers = rows.stream().filter(r -> r.peerSeconds() != null)
                .collect(Collectors.groupingBy(r -> r.peer() + " (" + r.device() + " " + r.dtype() + ")", LinkedHashMap::new, Collectors.toList()));
        peers.forEach((name, s) -> chart.add("peer: " + name, xs(s), values(s, BenchRow::peerRate), LineChart.Style.LINE));
        return chart;
    }

    private static String label(BenchRow r) { return r.op() + " " + r.device() + " " + r.dtype() + " " + r.shape(); }

    private static double[] xs(List<BenchRow> rows) { return values(rows, BenchRow::size); }

    private static double[] values(List<BenchRow> rows, Function<BenchRow, Double> f) {
        return rows.stream().mapToDouble(f::apply).toArray();
    }
}
