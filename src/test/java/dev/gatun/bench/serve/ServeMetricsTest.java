package dev.gatun.bench.serve;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vLLM metric definitions on a hand-made timeline whose answers are worked out below. */
class ServeMetricsTest {
    private static final long T0 = 7_000_000_000L; // an arbitrary nanoTime origin
    private static final double EPS = 1e-9;

    private static long ms(double t) { return T0 + Math.round(t * 1e6); }

    /**
     * A: sent at 0 ms, chunks at 100, 120, 150, 190, stream ends at 200; 10 prompt, 4 output tokens.
     * B: sent at 50, one chunk at 350, ends at 360; 20 prompt, 1 output token (no TPOT).
     * C: sent at 100, chunks at 160, 170, ends at 170; 30 prompt, 2 output tokens.
     * D: sent at 120, failed at 130 (40 prompt tokens): not counted.
     */
    private static final List<RequestRecord> TIMELINE = List.of(
            new RequestRecord(ms(0), new long[] {ms(100), ms(120), ms(150), ms(190)}, ms(200), 10, 4, null),
            new RequestRecord(ms(50), new long[] {ms(350)}, ms(360), 20, 1, null),
            new RequestRecord(ms(100), new long[] {ms(160), ms(170)}, ms(170), 30, 2, null),
            RequestRecord.failed(ms(120), ms(130), 40, "connection refused"));

    @Test
    void countsAndThroughputOverTheDuration() {
        ServeMetrics m = ServeMetrics.of(TIMELINE, T0, 0.5);
        assertEquals(3, m.completed());
        assertEquals(1, m.failed());
        assertEquals(10 + 20 + 30, m.totalInputTokens());
        assertEquals(4 + 1 + 2, m.totalOutputTokens());
        assertEquals(3 / 0.5, m.requestThroughput(), EPS);
        assertEquals(7 / 0.5, m.outputThroughput(), EPS);
        assertEquals((60 + 7) / 0.5, m.totalTokenThroughput(), EPS);
    }

    @Test
    void ttftIsFirstChunkMinusSend() {
        ServeMetrics.Stat s = ServeMetrics.of(TIMELINE, T0, 0.5).ttft();
        // samples 100, 300, 60; sorted 60, 100, 300
        assertEquals(3, s.count());
        assertEquals((100 + 300 + 60) / 3.0, s.meanMs(), 1e-6);
        assertEquals(100, s.medianMs(), 1e-6);
        assertEquals(100 + 0.98 * (300 - 100), s.p99Ms(), 1e-6); // rank 0.99 * 2 = 1.98
        double mean = 460 / 3.0;
        double var = (Math.pow(100 - mean, 2) + Math.pow(300 - mean, 2) + Math.pow(60 - mean, 2)) / 3;
        assertEquals(Math.sqrt(var), s.stdMs(), 1e-6);
    }

    @Test
    void tpotLeavesOutTheFirstTokenAndSingleTokenRequests() {
        ServeMetrics.Stat s = ServeMetrics.of(TIMELINE, T0, 0.5).tpot();
        // A: (200 - 100) / (4 - 1); C: (70 - 60) / (2 - 1); B has one token
        double a = 100 / 3.0, c = 10;
        assertEquals(2, s.count());
        assertEquals((a + c) / 2, s.meanMs(), 1e-6);
        assertEquals((a + c) / 2, s.medianMs(), 1e-6);
        assertEquals(c + 0.99 * (a - c), s.p99Ms(), 1e-6);
    }

    @Test
    void itlPoolsEveryGapBetweenChunks() {
        ServeMetrics.Stat s = ServeMetrics.of(TIMELINE, T0, 0.5).itl();
        // A: 20, 30, 40; C: 10; sorted 10, 20, 30, 40
        assertEquals(4, s.count());
        assertEquals(25, s.meanMs(), 1e-6);
        assertEquals(25, s.medianMs(), 1e-6); // rank 1.5
        assertEquals(30 + 0.97 * 10, s.p99Ms(), 1e-6); // rank 2.97
    }

    @Test
    void e2elIsEndMinusSend() {
        ServeMetrics.Stat s = ServeMetrics.of(TIMELINE, T0, 0.5).e2el();
        // 200, 310, 70
        assertEquals((200 + 310 + 70) / 3.0, s.meanMs(), 1e-6);
        assertEquals(200, s.medianMs(), 1e-6);
        assertEquals(200 + 0.98 * 110, s.p99Ms(), 1e-6);
    }

    @Test
    void samplesKeepSendTimesOfCompletedRequests() {
        ServeMetrics.Samples s = ServeMetrics.Samples.of(TIMELINE, T0);
        assertArrayEquals(new double[] {0, 0.05, 0.1}, s.sentSeconds(), 1e-9);
        assertArrayEquals(new double[] {20, 30, 40, 10}, s.itlMs(), 1e-6);
    }

    @Test
    void percentileInterpolatesLikeNumpy() {
        double[] sorted = {1, 2, 3, 4};
        assertEquals(2.5, ServeMetrics.percentile(sorted, 50), EPS);
        assertEquals(3.97, ServeMetrics.percentile(sorted, 99), EPS);
        assertEquals(1, ServeMetrics.percentile(sorted, 0), EPS);
        assertEquals(4, ServeMetrics.percentile(sorted, 100), EPS);
        assertEquals(5, ServeMetrics.percentile(new double[] {5}, 99), EPS);
    }

    @Test
    void nothingCompletedGivesNotANumberNotACrash() {
        ServeMetrics m = ServeMetrics.of(List.of(RequestRecord.failed(T0, T0 + 5, 3, "refused")), T0, 1);
        assertEquals(0, m.completed());
        assertTrue(Double.isNaN(m.ttft().meanMs()));
        assertTrue(m.table(1).contains("Mean TTFT (ms):                          n/a"), m.table(1));
    }

    @Test
    void tableHasVllmLayout() {
        String table = ServeMetrics.of(TIMELINE, T0, 0.5).table(Double.POSITIVE_INFINITY);
        assertTrue(table.startsWith("============ Serving Benchmark Result ============\n"), table);
        assertTrue(table.contains("Successful requests:                     3\n"), table);
        assertTrue(table.contains("Request rate configured (RPS):           inf\n"), table);
        assertTrue(table.contains("Output token throughput (tok/s):         14.00\n"), table);
        assertTrue(table.contains("Median TTFT (ms):                        100.00\n"), table);
        assertTrue(table.contains("-----Time per Output Token (excl. 1st token)------\n"), table);
        assertTrue(table.endsWith("=".repeat(50) + "\n"), table);
    }

    @Test
    void durationMustBePositive() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServeMetrics.of(TIMELINE, T0, 0));
        assertTrue(e.getMessage().contains("duration"), e.getMessage());
    }
}
