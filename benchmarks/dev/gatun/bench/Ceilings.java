package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleUnaryOperator;

/**
 * The machine's measured ceilings, each timed alternately with the op it is compared with (see
 * {@link Timing}): the FMA peak for compute-bound ops, and copy (read + write) and read bandwidth
 * over as many bytes as the op moves, so that ceiling and op see the same level of the memory
 * hierarchy (these machines' L3 holds tens of MiB). The torch peer, where one runs, takes its
 * turn in the same loop.
 */
final class Ceilings {
    /**
     * FMA iterations per probe: about the op's time, within ~3 and ~70 ms on 2 Zen 4 cores
     * (shorter probes read 20-90% low now and then on a VM: the pool's wake-up).
     */
    private static final long FMA_ITERATIONS = 20_000_000L, FMA_MIN_ITERATIONS = 1_000_000L, FMA_CALIBRATION = 1_000_000L;
    private final CpuDevice cpu;
    private final int repetitions;

    private Ceilings(CpuDevice cpu, int repetitions) {
        this.cpu = cpu;
        this.repetitions = repetitions;
    }

    static Ceilings measure(CpuDevice cpu, int repetitions) { return new Ceilings(cpu, repetitions); }

    String description() { return cpu.description() + ", median of " + repetitions + " after warm-up"; }

    /** Which memory ceiling an op is compared with. */
    enum Memory {
        /** A multi-threaded copy: GB/s read + written. */
        COPY("copy BW"),
        /** A row sum: GB/s read (it writes almost nothing). */
        READ("read BW");

        final String label;

        Memory(String label) { this.label = label; }
    }

    /**
     * An op's median seconds, the median of its ceiling (GB/s or GFLOP/s) and of its peer's seconds
     * (null: no peer ran).
     */
    record Measured(double seconds, double ceiling, Double peerSeconds) {
        /** The peer's name for a row: {@code name} where a peer ran, else null. */
        String peer(String name) { return peerSeconds == null ? null : name; }
    }

    /**
     * Times {@code op} on {@code device} beside the {@code memory} ceiling over {@code bytes} (the
     * bytes the op moves: read, or read + written) and {@code peer} (null: none).
     */
    Measured memoryBound(Device device, Runnable op, int repetitions, Memory memory, long bytes, TorchPeer peer) {
        long n = memory == Memory.COPY ? bytes / 2 / 4096 * 4096 : bytes / 4096 * 4096;
        long rows = 1024, cols = n / 4 / rows;
        // the copy's destination, or the row sums
        try (Tensor src = Tensor.empty(cpu, DType.F32, n / 4); Tensor dst = Tensor.empty(cpu, DType.F32, memory == Memory.COPY ? n / 4 : rows)) {
            src.fillBytes((byte) 1);
            dst.fillBytes((byte) 0);
            Timing.Probe probe = Timing.hostSeconds(memory == Memory.COPY
                    ? () -> cpu.library().copy(dst.dataAddress(), src.dataAddress(), n)
                    : () -> cpu.library().rowSum(0, src.dataAddress(), cols, dst.dataAddress(), rows, cols));
            double probed = memory == Memory.COPY ? 2.0 * n : 4.0 * rows * cols;
            return alternated(device, op, repetitions, probe, peer, seconds -> probed / seconds / 1e9);
        }
    }

    /**
     * Times {@code op} on {@code device} beside the FMA peak (GFLOP/s of fp32 FMAs on every pool
     * thread, the widest vectors the CPU build uses) and {@code peer} (null: none). Each FMA probe
     * runs about as long as the op's first run (which is slower than the timed ones), so that the
     * two alternate finely.
     */
    Measured computeBound(Device device, Runnable op, int repetitions, TorchPeer peer) {
        long t = System.nanoTime();
        op.run();
        double opSeconds = (System.nanoTime() - t) / 1e9;
        t = System.nanoTime();
        cpu.library().fmaPeakGflops(FMA_CALIBRATION);
        double perIteration = (System.nanoTime() - t) / 1e9 / FMA_CALIBRATION;
        long iterations = Math.clamp((long) (opSeconds / perIteration), FMA_MIN_ITERATIONS, FMA_ITERATIONS);
        return alternated(device, op, repetitions, () -> cpu.library().fmaPeakGflops(iterations), peer, gflops -> gflops);
    }

    private static Measured alternated(Device device, Runnable op, int repetitions, Timing.Probe ceiling, TorchPeer peer,
                                       DoubleUnaryOperator ceilingOfMedian) {
        List<Timing.Probe> probes = peer == null ? List.of(ceiling) : List.of(ceiling, peer);
        double[] medians = Timing.alternated(device, op, probes, repetitions, peer != null);
        Double peerSeconds = peer == null || !peer.ok() ? null : medians[2];
        return new Measured(medians[0], ceilingOfMedian.applyAsDouble(medians[1]), peerSeconds);
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
