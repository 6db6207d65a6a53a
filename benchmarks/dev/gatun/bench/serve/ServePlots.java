package dev.gatun.bench.serve;

import dev.gatun.bench.plot.LineChart;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The PNG charts of {@code gatun serve-bench --plot DIR}: the distributions of TTFT, TPOT, ITL and
 * end-to-end latency (as cumulative fractions, so that tails show), and each request's TTFT and
 * latency against when it was sent (queueing builds up as a rising cloud).
 */
final class ServePlots {
    private ServePlots() {}

    static List<Path> write(ServeMetrics.Samples s, String title, String subtitle, Path dir) {
        LineChart cdf = new LineChart(title + ": latency distributions", subtitle, "milliseconds (log)", "fraction of samples <= x", true, false);
        cdf(cdf, "TTFT", s.ttftMs());
        cdf(cdf, "TPOT", s.tpotMs());
        cdf(cdf, "ITL", s.itlMs());
        cdf(cdf, "E2E latency", s.e2elMs());
        LineChart overTime = new LineChart(title + ": each request's latency by send time", subtitle, "sent at (s from start)",
                "milliseconds (log)", false, true)
                .add("TTFT", s.sentSeconds(), s.ttftMs(), LineChart.Style.POINTS)
                .add("E2E latency", s.sentSeconds(), s.e2elMs(), LineChart.Style.POINTS);
        return List.of(cdf.write(dir.resolve("serve-latency-cdf.png")), overTime.write(dir.resolve("serve-latency-over-time.png")));
    }

    /** The empirical cumulative distribution: the i-th smallest value at fraction (i + 1) / n. */
    private static void cdf(LineChart chart, String name, double[] values) {
        double[] x = values.clone();
        Arrays.sort(x);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (i + 1.0) / x.length;
        chart.add(name + " (n=" + x.length + ")", x, y, LineChart.Style.LINE);
    }
}
