package dev.gatun.bench.serve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The serving metrics as vLLM's {@code benchmark_serving.py} defines them, over the completed
 * requests ({@link RequestRecord#completed()}):
 * <ul>
 *   <li>TTFT: first chunk's arrival - send time;</li>
 *   <li>TPOT, per request: (end-to-end latency - TTFT) / (output tokens - 1); requests with one
 *       output token have none;</li>
 *   <li>ITL: every gap between consecutive chunks of a request, pooled over all requests;</li>
 *   <li>E2EL: end of the stream - send time;</li>
 *   <li>request, output-token and total-token (prompt + output) throughput: those counts over the
 *       benchmark's duration (first send to last completion).</li>
 * </ul>
 * Percentiles interpolate linearly between order statistics (numpy's default); the standard
 * deviation is the population one (numpy's {@code std}).
 */
record ServeMetrics(int completed, int failed, double durationSeconds, long totalInputTokens, long totalOutputTokens,
                    double requestThroughput, double outputThroughput, double totalTokenThroughput,
                    Stat ttft, Stat tpot, Stat itl, Stat e2el) {

    /** Milliseconds; NaN when there was nothing to measure. */
    record Stat(int count, double meanMs, double medianMs, double stdMs, double p99Ms) {
        static Stat of(double[] ms) {
            if (ms.length == 0) return new Stat(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double mean = Arrays.stream(ms).sum() / ms.length, var = 0;
            for (double v : ms) var += (v - mean) * (v - mean);
            return new Stat(ms.length, mean, percentile(sorted, 50), Math.sqrt(var / ms.length), percentile(sorted, 99));
        }
    }

    /** Every sample behind the metrics, in milliseconds, and each completed request's send time in seconds from the start. */
    record Samples(double[] ttftMs, double[] tpotMs, double[] itlMs, double[] e2elMs, double[] sentSeconds) {
        static Samples of(List<RequestRecord> records, long startNanos) {
            List<Double> ttft = new ArrayList<>(), tpot = new ArrayList<>(), itl = new ArrayList<>(), e2el = new ArrayList<>(), sent = new ArrayList<>();
            for (RequestRecord r : records) {
                if (!r.completed()) continue;
                double first = ms(r.chunkNanos()[0] - r.sentNanos()), latency = ms(r.endNanos() - r.sentNanos());
                ttft.add(first);
                e2el.add(latency);
                sent.add((r.sentNanos() - startNanos) / 1e9);
                if (r.outputTokens() > 1) tpot.add((latency - first) / (r.outputTokens() - 1));
                for (int i = 1; i < r.chunkNanos().length; i++) itl.add(ms(r.chunkNanos()[i] - r.chunkNanos()[i - 1]));
            }
            return new Samples(array(ttft), array(tpot), array(itl), array(e2el), array(sent));
        }
    }

    /** The metrics of {@code records} from a benchmark that started at {@code startNanos} and lasted {@code durationSeconds}. */
    static ServeMetrics of(List<RequestRecord> records, long startNanos, double durationSeconds) {
        if (!(durationSeconds > 0)) throw new IllegalArgumentException("serve metrics: the duration must be > 0 seconds, got " + durationSeconds);
        Samples s = Samples.of(records, startNanos);
        int completed = 0;
        long input = 0, output = 0;
        for (RequestRecord r : records) {
            if (!r.completed()) continue;
            completed++;
            input += r.promptTokens();
            output += r.outputTokens();
        }
        return new ServeMetrics(completed, records.size() - completed, durationSeconds, input, output, completed / durationSeconds,
                output / durationSeconds, (input + output) / durationSeconds, Stat.of(s.ttftMs()), Stat.of(s.tpotMs()), Stat.of(s.itlMs()),
                Stat.of(s.e2elMs()));
    }

    /** The summary in vLLM's layout: counts and throughputs, then mean, median and P99 of TTFT, TPOT, ITL and E2EL. */
    String table(double requestRate) {
        StringBuilder out = new StringBuilder();
        out.append(banner(" Serving Benchmark Result ", '='));
        row(out, "Successful requests:", Integer.toString(completed));
        row(out, "Failed requests:", Integer.toString(failed));
        row(out, "Request rate configured (RPS):", Double.isInfinite(requestRate) ? "inf" : fixed(requestRate));
        row(out, "Benchmark duration (s):", fixed(durationSeconds));
        row(out, "Total input tokens:", Long.toString(totalInputTokens));
        row(out, "Total generated tokens:", Long.toString(totalOutputTokens));
        row(out, "Request throughput (req/s):", fixed(requestThroughput));
        row(out, "Output token throughput (tok/s):", fixed(outputThroughput));
        row(out, "Total Token throughput (tok/s):", fixed(totalTokenThroughput));
        stat(out, "Time to First Token", "TTFT", ttft);
        stat(out, "Time per Output Token (excl. 1st token)", "TPOT", tpot);
        stat(out, "Inter-token Latency", "ITL", itl);
        stat(out, "End-to-end Latency", "E2EL", e2el);
        return out.append("=".repeat(50)).append('\n').toString();
    }

    private static void stat(StringBuilder out, String title, String name, Stat s) {
        out.append(banner(title, '-'));
        row(out, "Mean " + name + " (ms):", fixed(s.meanMs()));
        row(out, "Median " + name + " (ms):", fixed(s.medianMs()));
        row(out, "P99 " + name + " (ms):", fixed(s.p99Ms()));
    }

    private static String banner(String title, char fill) {
        int left = (50 - title.length()) / 2;
        return String.valueOf(fill).repeat(Math.max(0, left)) + title + String.valueOf(fill).repeat(Math.max(0, 50 - left - title.length())) + "\n";
    }

    private static void row(StringBuilder out, String name, String value) {
        out.append(String.format(Locale.ROOT, "%-40s %s%n", name, value));
    }

    private static String fixed(double v) { return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.2f", v); }

    /** The {@code p}-th percentile of ascending {@code sorted}, interpolated linearly between the two nearest ranks. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        double rank = p / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(rank), hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    private static double ms(long nanos) { return nanos / 1e6; }

    private static double[] array(List<Double> values) { return values.stream().mapToDouble(Double::doubleValue).toArray(); }
}
