package dev.gatun.llm.engine;

import java.util.Arrays;

/**
 * A latency recorder: the count, mean and maximum of everything recorded, and percentiles over the
 * most recent {@value #WINDOW} samples (a ring buffer). Thread-safe; recording is O(1).
 */
public final class LatencyStats {
    static final int WINDOW = 8192;

    /** Percentiles in milliseconds (NaN when nothing was recorded). */
    public record Snapshot(long count, double meanMs, double p50Ms, double p90Ms, double p99Ms, double maxMs) {
        @Override
        public String toString() {
            return count == 0 ? "n=0" : String.format("n=%d mean=%.2fms p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms", count, meanMs, p50Ms, p90Ms, p99Ms, maxMs);
        }
    }

    private final long[] ring = new long[WINDOW];
    private long count, sumNanos, maxNanos;

    public synchronized void record(long nanos) {
        ring[(int) (count % WINDOW)] = nanos;
        count++;
        sumNanos += nanos;
        maxNanos = Math.max(maxNanos, nanos);
    }

    public synchronized Snapshot snapshot() {
        if (count == 0) return new Snapshot(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        long[] window = Arrays.copyOf(ring, (int) Math.min(count, WINDOW));
        Arrays.sort(window);
        return new Snapshot(count, sumNanos / 1e6 / count, pct(window, 0.50), pct(window, 0.90), pct(window, 0.99), maxNanos / 1e6);
    }

    private static double pct(long[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
