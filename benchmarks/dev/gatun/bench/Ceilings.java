package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The machine's measured ceilings, taken in the same run as the ops (these machines are noisy,
 * so each is the median of several repetitions after warm-up ones): the FMA peak for compute-bound
 * attention, and copy (read + write) and read bandwidth over as many bytes as the op moves, so that
 * ceiling and op see the same level of the memory hierarchy (these machines' L3 holds tens of MiB),
 * timed alternately with the op.
 * The FMA peak is measured when first asked for, after the row ops have run: measured at start-up,
 * while the JIT compiler threads still share the cores, it read 45% low on a 2-core machine.
 */
final class Ceilings {
    private static final int WARM_UP = 5;
    private static final long FMA_ITERATIONS = 20_000_000L;
    private final CpuDevice cpu;
    private final int repetitions;
    private double fmaGflops = Double.NaN;

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

    /** Which memory ceiling an op is compared with. */
    enum Memory {
        /** A multi-threaded copy: GB/s read + written. */
        COPY("copy BW"),
        /** A row sum: GB/s read (it writes almost nothing). */
        READ("read BW");

        final String label;

        Memory(String label) { this.label = label; }
    }

    /** An op's median seconds and the memory ceiling over the same bytes, in GB/s. */
    record Measured(double seconds, double ceilingGBs) {}

    /**
     * Times {@code op} on {@code device} with the {@code memory} ceiling over {@code bytes}
     * (the bytes the op moves: read, or read + written), their repetitions alternated: on these
     * machines the memory bandwidth a VM gets moves by tens of percent within seconds, so a
     * ceiling measured apart from its op can read lower than the op itself.
     */
    Measured beside(Device device, Runnable op, int repetitions, Memory memory, long bytes) {
        long n = memory == Memory.COPY ? bytes / 2 / 4096 * 4096 : bytes / 4096 * 4096;
        long rows = 1024, cols = n / 4 / rows;
        // the copy's destination, or the row sums
        try (Tensor src = Tensor.empty(cpu, DType.F32, n / 4); Tensor dst = Tensor.empty(cpu, DType.F32, memory == Memory.COPY ? n / 4 : rows)) {
            src.fillBytes((byte) 1);
            dst.fillBytes((byte) 0);
            Runnable probe = memory == Memory.COPY
                    ? () -> cpu.library().copy(dst.dataAddress(), src.dataAddress(), n)
                    : () -> cpu.library().rowSum(0, src.dataAddress(), cols, dst.dataAddress(), rows, cols);
            double[] seconds = Timing.pairedMedianSeconds(device, op, probe, repetitions);
            double probed = memory == Memory.COPY ? 2.0 * n : 4.0 * rows * cols;
            return new Measured(seconds[0], probed / seconds[1] / 1e9);
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
