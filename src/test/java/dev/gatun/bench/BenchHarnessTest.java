package dev.gatun.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatun.device.CpuDevice;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parts of {@code ./gatun bench} that turn measurements into the published figures: medians,
 * the timing loop, the ceilings and the peer beside their op, the ratios of a row, and the table
 * and JSON they are written as. Times here are never asserted against a bound of the machine,
 * only against what the test itself made the op take.
 */
class BenchHarnessTest {
    static final BenchRow WITH_PEER = new BenchRow("decode", "cpu", "fp32", "b16 \"h32/8\" d128", 128, "MiB moved", 0.004, 33.5, "GB/s",
            50.0, "read BW", "torch 2.13 sdpa", 0.012);
    static final BenchRow WITHOUT_PEER = new BenchRow("softmax", "emu", "bf16", "256x4096", 4, "MiB moved", 0.25, 0.0168, "GB/s",
            120.0, "copy BW", null, null);

    @Test
    void opOptionSelectsOpsAndRejectsUnknownOnes() {
        assertEquals(Set.copyOf(BenchMain.OPS), BenchMain.parse("--quick").ops(), "no --op: every op");
        assertEquals(Set.of("prefill", "decode"), BenchMain.parse("--op", "prefill", "--device", "cpu", "--op", "decode").ops());
        assertEquals(List.of("cpu"), BenchMain.parse("--op", "prefill", "--device", "cpu").devices());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> BenchMain.parse("--op", "attention"));
        assertTrue(unknown.getMessage().contains("--op attention: no such op (softmax, rmsnorm"), unknown.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> BenchMain.parse("--op"));
        assertTrue(missing.getMessage().startsWith("--op needs an op name"), missing.getMessage());
    }

    @Test
    void medianOfOddAndEvenCounts() {
        double[] values = {5, 1, 4, 2, 3};
        assertEquals(3, Ceilings.median(values));
        assertArrayEquals(new double[] {5, 1, 4, 2, 3}, values, "the input keeps its order");
        assertEquals(2.5, Ceilings.median(new double[] {4, 1, 3, 2}));
        assertEquals(7, Ceilings.median(new double[] {7}));
    }

    @Test
    void timingRunsUntilItsFloorAndAlternatesTheProbes() {
        CpuDevice cpu = (CpuDevice) Devices.get("cpu");
        AtomicInteger actions = new AtomicInteger(), besides = new AtomicInteger();
        List<Integer> order = new ArrayList<>();
        double[] medians = Timing.alternated(cpu, () -> {
            actions.incrementAndGet();
            order.add(0);
            sleep(2);
        }, List.of(Timing.hostSeconds(besides::incrementAndGet), () -> {
            order.add(1);
            return 42.0;
        }), 3, false);
        // 3 repetitions of 2 ms are far below the 0.3 s floor: it keeps going until the floor
        int timed = besides.get() - 2; // two warm-up runs of each probe
        int warmUps = actions.get() - timed;
        assertTrue(timed > 3 && timed <= Timing.MIN_SECONDS / 0.002 + 1, "timed runs: " + timed);
        assertTrue(warmUps > 1 && warmUps <= Timing.WARM_UP_RUNS, "warm-up runs until 0.5 s or 200 runs: " + warmUps);
        assertEquals(3, medians.length);
        assertTrue(medians[0] >= 0.002 && medians[0] < 0.5, "median of 2 ms sleeps: " + medians[0]);
        assertTrue(medians[1] < medians[0], "the first probe does nothing: " + medians[1]);
        assertEquals(42.0, medians[2], "a probe's median is of the figures it returns");
        // after the warm-ups (the action's, then the probe twice): action, probe, action, probe, ...
        List<Integer> timedOrder = order.subList(warmUps + 2, order.size());
        for (int i = 0; i < timedOrder.size(); i++) assertEquals(i % 2, timedOrder.get(i), "alternated: " + timedOrder);

        AtomicInteger slow = new AtomicInteger();
        double one = Timing.alternated(cpu, () -> {
            slow.incrementAndGet();
            sleep(100);
        }, List.of(), 2, false)[0];
        // warm-up runs until 0.5 s, then timed runs until 0.3 s: five and three of 100 ms (four and two
        // where a loaded machine oversleeps)
        assertTrue(slow.get() >= 4 + 2 && slow.get() <= 5 + 3, "runs: " + slow.get());
        assertTrue(one >= 0.1, "median " + one);
        List<Integer> runsBetweenProbes = new ArrayList<>();
        AtomicInteger runs = new AtomicInteger();
        Timing.alternated(cpu, () -> {
            runs.incrementAndGet();
            sleep(20);
        }, List.of(() -> runsBetweenProbes.add(runs.getAndSet(0)) ? 0.0 : 0.0), 3, true);
        // the probe's two warm-ups (after the action's), then per timed run: an untimed run and the timed one
        assertEquals(0, runsBetweenProbes.get(1));
        for (int i = 2; i < runsBetweenProbes.size(); i++) assertEquals(2, runsBetweenProbes.get(i), "rewarm: " + runsBetweenProbes);
    }

    @Test
    void ceilingsAreMeasuredBesideTheirOp() {
        CpuDevice cpu = (CpuDevice) Devices.get("cpu");
        Ceilings ceilings = Ceilings.measure(cpu, 3);
        AtomicInteger ops = new AtomicInteger();
        Runnable op = () -> {
            ops.incrementAndGet();
            sleep(1);
        };
        for (Ceilings.Memory memory : Ceilings.Memory.values()) {
            Ceilings.Measured m = ceilings.memoryBound(cpu, op, 3, memory, 8 << 20, null);
            assertTrue(m.seconds() >= 0.001, memory + ": " + m.seconds());
            assertTrue(m.ceiling() > 0 && Double.isFinite(m.ceiling()), memory + ": " + m.ceiling());
            assertEquals(null, m.peerSeconds());
        }
        int before = ops.get();
        Ceilings.Measured fma = ceilings.computeBound(cpu, DType.F32, op, 3, null);
        assertTrue(fma.ceiling() > 0 && Double.isFinite(fma.ceiling()), "GFLOP/s " + fma.ceiling());
        assertTrue(ops.get() - before > 3, "the op ran beside the FMA probe");
        assertTrue(ceilings.description().contains("median of 3"), ceilings.description());
    }

    @Test
    void cpuBf16RowsStandBesideThePeakOfTheUnitsTheirTilesUse() {
        for (CpuDevice cpu : TestDevices.cpus()) {
            Ceilings ceilings = Ceilings.measure(cpu, 3);
            boolean had = cpu.library().useAvx512Bf16(true);
            try {
                // dot products where the build and CPU run the bf16 tiles on them, else the FMA peak
                for (boolean use : new boolean[] {true, false}) {
                    cpu.library().useAvx512Bf16(use);
                    double dot = cpu.library().bf16DotPeakGflops(100_000);
                    Ceilings.Measured m = ceilings.computeBound(cpu, DType.BF16, () -> sleep(1), 3, null);
                    assertEquals(dot > 0 ? "BF16 dot peak" : "FMA peak", m.ceilingName(), cpu.description() + ", bf16 instructions " + use);
                    assertTrue(m.ceiling() > 0 && Double.isFinite(m.ceiling()), m.toString());
                    if (!use) assertEquals(-1.0, dot, "no dot products without the instructions");
                }
            } finally {
                cpu.library().useAvx512Bf16(had);
            }
            assertEquals("FMA peak", ceilings.computeBound(cpu, DType.F32, () -> sleep(1), 3, null).ceilingName());
        }
    }

    @Test
    void aPeerRunsOncePerLineAndSaysWhenItStops() {
        CpuDevice cpu = (CpuDevice) Devices.get("cpu");
        // the protocol of the torch script, from a shell: ready, then one time per line read
        try (TorchPeer peer = TorchPeer.start("fake", List.of("sh", "-c", "echo noise; echo ready torch=0; while read l; do echo seconds=0.0025; done"),
                TorchPeer.TIMEOUT)) {
            Ceilings.Measured m = Ceilings.measure(cpu, 3).memoryBound(cpu, () -> sleep(1), 3, Ceilings.Memory.READ, 1 << 20, peer);
            assertEquals(0.0025, m.peerSeconds());
            assertTrue(peer.ok());
        }
        try (TorchPeer peer = TorchPeer.start("fake", List.of("sh", "-c", "echo ready torch=0; read l; echo seconds=0.5; read l; echo oops"),
                TorchPeer.TIMEOUT)) {
            assertEquals(0.5, peer.measure());
            assertTrue(Double.isNaN(peer.measure()) && !peer.ok(), "it stopped after one run");
            assertTrue(Double.isNaN(peer.measure()), "and stays failed");
            Ceilings.Measured m = Ceilings.measure(cpu, 3).computeBound(cpu, DType.F32, () -> sleep(1), 3, peer);
            assertEquals(null, m.peerSeconds(), "a row whose peer failed has none");
        }
        assertEquals(null, TorchPeer.start("fake", List.of("sh", "-c", "echo Traceback; exit 1"), TorchPeer.TIMEOUT), "never ready");
        // one that hangs is killed after its timeout: the row goes on without it
        try (TorchPeer peer = TorchPeer.start("fake", List.of("sh", "-c", "echo ready torch=0; read l; sleep 60"), Duration.ofMillis(300))) {
            long t = System.nanoTime();
            assertTrue(Double.isNaN(peer.measure()) && !peer.ok(), "a run that never answers fails");
            assertTrue(System.nanoTime() - t < 30_000_000_000L, "within its timeout, not after sleep 60");
        }
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
