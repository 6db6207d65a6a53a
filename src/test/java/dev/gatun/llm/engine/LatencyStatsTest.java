package dev.gatun.llm.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Count, mean and maximum over everything; nearest-rank percentiles over the last WINDOW samples. */
class LatencyStatsTest {
    private static final long MS = 1_000_000;

    @Test
    void percentilesMeanAndMaximum() {
        LatencyStats stats = new LatencyStats();
        assertTrue(Double.isNaN(stats.snapshot().p50Ms()), "nothing recorded");
        assertEquals(0, stats.snapshot().count());
        for (int i = 100; i >= 1; i--) stats.record(i * MS);  // out of order: the snapshot sorts
        LatencyStats.Snapshot s = stats.snapshot();
        assertEquals(100, s.count());
        assertEquals(50.5, s.meanMs(), 1e-12);
        assertEquals(50, s.p50Ms(), 0);
        assertEquals(90, s.p90Ms(), 0);
        assertEquals(99, s.p99Ms(), 0);
        assertEquals(100, s.maxMs(), 0);

        LatencyStats one = new LatencyStats();
        one.record(7 * MS);
        assertEquals(7, one.snapshot().p50Ms(), 0);
        assertEquals(7, one.snapshot().p99Ms(), 0);
    }

    @Test
    void percentilesCoverOnlyTheRecentWindow() {
        LatencyStats stats = new LatencyStats();
        stats.record(1000 * MS);                                             // pushed out of the window below
        for (int i = 0; i < LatencyStats.WINDOW; i++) stats.record((i % 10 + 1) * MS);
        LatencyStats.Snapshot s = stats.snapshot();
        assertEquals(LatencyStats.WINDOW + 1, s.count());
        assertEquals(10, s.p99Ms(), 0, "the old sample is outside the window");
        assertEquals(1000, s.maxMs(), 0, "the maximum is over everything");
        assertEquals((1000 + LatencyStats.WINDOW / 10 * 55 + 1 + 2) / (double) (LatencyStats.WINDOW + 1), s.meanMs(), 1e-9);
    }
}
