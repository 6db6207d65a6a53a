package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The machine's measured ceilings, taken in the same run as the ops (these machines are noisy,
 * so each is the median of several repetitions after warm-up ones): the FMA peak for compute-bound
 * attention, and copy (read + write) and read bandwidth over as many bytes as the op moves, so that
 * ceiling and op see the same level of the memory hierarchy (these machines' L3 holds tens of MiB).
 * The FMA peak is measured when first asked for, after the row ops have run: measured at start-up,
 * while the JIT compiler threads still share the cores, it read 45% low on a 2-core machine.
 */
final class Ceilings {
    private static final int WARM_UP = 5;
    private static final long FMA_ITERATIONS = 20_000_000L;
    private final CpuDevice cpu;
    private final int repetitions;
    private double fmaGflops = Double.NaN;
    private final Map<Long, Double> copy = new HashMap<>(), read = new HashMap<>();

    private Ceilings(CpuDevice cpu, int repetitions) {
        this.cpu = cpu;
        this.repetitions = repetitions;
    }

    static Ceilings measure(CpuDevice cpu, int repetitions) { return new Ceilings(cpu, repetitions); }

    String description() { return cpu.description() + ", median of " + repetitions + " after warm-up"; }

    synchronized boolean fmaMeasured() { return !Double.isNaN(fmaGflops); }

    /** GFLOP/s of fp32 FMAs on every pool thread (the widest vectors the CPU build uses). */
    synchronized double fmaGflops() {
        if (Double.isNaN(fmaGflops)) {
            for (int i = 0; i < WARM_UP; i++) cpu.library().fmaPeakGflops(FMA_ITERATIONS);
            double[] fma = new double[repetitions];
            for (int i = 0; i < repetitions; i++) fma[i] = cpu.library().fmaPeakGflops(FMA_ITERATIONS);
            fmaGflops = median(fma);
        }
        return fmaGflops;
    }

    /** GB/s (read + write) of a multi-threaded copy of {@code bytes}. */
    double copyGBs(long bytes) {
        return copy.computeIfAbsent(bytes, n -> {
            try (Tensor src = Tensor.empty(cpu, DType.F32, n / 4); Tensor dst = Tensor.empty(cpu, DType.F32, n / 4)) {
                src.fillBytes((byte) 1);
                dst.fillBytes((byte) 0);
                return 2.0 * n / medianSeconds(() -> cpu.library().copy(dst.dataAddress(), src.dataAddress(), n)) / 1e9;
            }
        });
    }

    /** GB/s of reading {@code bytes} once (a row sum: it writes almost nothing). */
    double readGBs(long bytes) {
        return read.computeIfAbsent(bytes, n -> {
            long rows = 1024, cols = n / 4 / rows;
            try (Tensor src = Tensor.empty(cpu, DType.F32, rows * cols); Tensor sums = Tensor.empty(cpu, DType.F32, rows)) {
                src.fillBytes((byte) 1);
                return 4.0 * rows * cols / medianSeconds(() -> cpu.library().rowSum(0, src.dataAddress(), cols, sums.dataAddress(), rows, cols)) / 1e9;
            }
        });
    }

    private double medianSeconds(Runnable action) {
        for (int i = 0; i < 2; i++) action.run(); // warm-up: fault the pages in, settle the clocks
        double[] seconds = new double[repetitions];
        for (int i = 0; i < repetitions; i++) {
            long start = System.nanoTime();
            action.run();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        return median(seconds);
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
