package dev.gatun.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatun.device.CpuDevice;
import dev.gatun.device.Devices;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parts of {@code ./gatun bench} that turn measurements into the published figures: medians,
 * the timing loop, a memory ceiling beside its op, the ratios of a row, and the table and JSON
 * they are written as. Times here are never asserted against a bound of the machine, only
 * against what the test itself made the op take.
 */
class BenchHarnessTest {
    static final BenchRow WITH_PEER = new BenchRow("decode", "cpu", "fp32", "b16 \"h32/8\" d128", 128, "MiB moved", 0.004, 33.5, "GB/s",
            50.0, "read BW", "torch 2.13 sdpa", 0.012);
    static final BenchRow WITHOUT_PEER = new BenchRow("softmax", "emu", "bf16", "256x4096", 4, "MiB moved", 0.25, 0.0168, "GB/s",
            120.0, "copy BW", null, null);

    @Test
    void medianOfOddAndEvenCounts() {
        double[] values = {5, 1, 4, 2, 3};
        assertEquals(3, Ceilings.median(values));
        assertArrayEquals(new double[] {5, 1, 4, 2, 3}, values, "the input keeps its order");
        assertEquals(2.5, Ceilings.median(new double[] {4, 1, 3, 2}));
        assertEquals(7, Ceilings.median(new double[] {7}));
    }

    @Test
    void timingRunsUntilItsFloorAndAlternatesTheTwoActions() {
        CpuDevice cpu = (CpuDevice) Devices.get("cpu");
        AtomicInteger actions = new AtomicInteger(), besides = new AtomicInteger();
        double[] medians = Timing.pairedMedianSeconds(cpu, () -> {
            actions.incrementAndGet();
            sleep(2);
        }, besides::incrementAndGet, 3);
        // 3 repetitions of 2 ms are far below the 0.3 s floor: it keeps going until the floor
        int timed = actions.get() - 1; // one warm-up run
        assertTrue(timed > 3 && timed <= Timing.MIN_SECONDS / 0.002 + 1, "timed runs: " + timed);
        assertEquals(timed + 2, besides.get(), "the beside action runs once per timed run, after two warm-ups");
        assertTrue(medians[0] >= 0.002 && medians[0] < 0.5, "median of 2 ms sleeps: " + medians[0]);
        assertTrue(medians[1] < medians[0], "the beside action does nothing: " + medians[1]);

        AtomicInteger slow = new AtomicInteger();
        double one = Timing.medianSeconds(cpu, () -> {
            slow.incrementAndGet();
            sleep(100);
        }, 2);
        assertEquals(1 + 3, slow.get(), "a warm-up, then runs until 0.3 s: three of 100 ms");
        assertTrue(one >= 0.1, "median " + one);
    }

    @Test
    void aMemoryCeilingIsMeasuredBesideItsOp() {
        CpuDevice cpu = (CpuDevice) Devices.get("cpu");
        Ceilings ceilings = Ceilings.measure(cpu, 3);
        AtomicInteger ops = new AtomicInteger();
        for (Ceilings.Memory memory : Ceilings.Memory.values()) {
            Ceilings.Measured m = ceilings.beside(cpu, () -> {
                ops.incrementAndGet();
                sleep(1);
            }, 3, memory, 8 << 20);
            assertTrue(m.seconds() >= 0.001, memory + ": " + m.seconds());
            assertTrue(m.ceilingGBs() > 0 && Double.isFinite(m.ceilingGBs()), memory + ": " + m.ceilingGBs());
        }
        assertTrue(ops.get() > 6);
        assertTrue(ceilings.description().contains("median of 3"), ceilings.description());
        assertTrue(!ceilings.fmaMeasured(), "the FMA peak waits until a compute-bound row asks for it");
    }

    @Test
    void rowRatios() {
        assertEquals(67.0, WITH_PEER.percentOfCeiling(), 1e-9);
        assertEquals(33.5 * 0.004 / 0.012, WITH_PEER.peerRate(), 1e-12, "the peer's rate on the same work");
        assertTrue(Double.isNaN(WITHOUT_PEER.peerRate()));
    }

    @Test
    void jsonHasTheDocumentedFieldsPerRow() throws Exception {
        JsonNode rows = new ObjectMapper().readTree(Table.json(List.of(WITH_PEER, WITHOUT_PEER)));
        assertEquals(2, rows.size());
        for (JsonNode row : rows)
            for (String field : new String[] {"op", "device", "dtype", "shape", "size", "size_unit", "seconds", "rate", "rate_unit", "ceiling",
                    "ceiling_name", "peer", "peer_seconds"})
                assertTrue(row.has(field), field + " in " + row);
        JsonNode a = rows.get(0), b = rows.get(1);
        assertEquals("b16 \"h32/8\" d128", a.get("shape").asText(), "quotes escaped");
        assertEquals(0.004, a.get("seconds").asDouble());
        assertEquals(33.5, a.get("rate").asDouble());
        assertEquals(50.0, a.get("ceiling").asDouble());
        assertEquals("torch 2.13 sdpa", a.get("peer").asText());
        assertEquals(0.012, a.get("peer_seconds").asDouble());
        assertTrue(b.get("peer").isNull() && b.get("peer_seconds").isNull());
        assertEquals("emu", b.get("device").asText());
        assertEquals(0.0168, b.get("rate").asDouble());
        assertEquals("[\n]\n", Table.json(List.of()));
    }

    @Test
    void tableShowsPercentOfCeilingAndTheRatioToThePeer() {
        String[] lines = Table.render(List.of(WITH_PEER, WITHOUT_PEER)).split("\n");
        assertEquals(3, lines.length);
        assertTrue(lines[0].contains("% ceiling") && lines[0].contains("vs peer"), lines[0]);
        assertTrue(lines[1].contains(" 4.000 ") && lines[1].contains("67.0%") && lines[1].contains("12.000") && lines[1].endsWith("3.00x"), lines[1]);
        assertTrue(lines[2].contains("250.000") && lines[2].contains(" 0.0%") && lines[2].endsWith("-"), lines[2]);
    }

    private static void sleep(long millis) {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
