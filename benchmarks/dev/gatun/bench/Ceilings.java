package dev.gatun.bench;

import dev.gatun.bindings.gatun.CpuLibrary;
import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.ops.Ops;
import dev.gatun.ops.Peaks;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntToDoubleFunction;
import java.util.function.LongToDoubleFunction;

/**
 * The machine's measured ceilings, each timed alternately with the op it is compared with (see
 * {@link Timing}): the FMA peak for compute-bound ops, and copy (read + write) and read bandwidth
 * over as many bytes as the op moves, so that ceiling and op see the same level of the memory
 * hierarchy (these machines' L3 holds tens of MiB). The torch peer, where one runs, takes its
 * turn in the same loop. Rows on the cuda device stand beside the GPU's own ceilings, timed with
 * its events: the fp32 FMA or tensor-core (wmma) peak of kernels/peak.cuh, and a row sum or a
 * device-to-device copy over the op's bytes in device memory. Emu rows keep the CPU's (emu runs
 * on it; its figures are emulation, not a GPU's).
 */
final class Ceilings {
    /**
     * FMA iterations per probe: about the op's time, within ~3 and ~70 ms on 2 Zen 4 cores
     * (shorter probes read 20-90% low now and then on a VM: the pool's wake-up).
     */
    private static final long FMA_ITERATIONS = 20_000_000L, FMA_MIN_ITERATIONS = 1_000_000L, FMA_CALIBRATION = 1_000_000L;
    /** Blocks of the GPU peak probes: several waves' worth on an H100's 132 SMs. */
    private static final int GPU_PEAK_BLOCKS = 2048;
    /** Iterations of a GPU peak probe's calibration run, and the fewest and most a probe runs. */
    private static final int GPU_PEAK_CALIBRATION = 256, GPU_PEAK_MIN = 16, GPU_PEAK_MAX = 1 << 22;
    private final int gpuPeakBlocks;
    private final CpuDevice cpu;
    private final int repetitions;

    private Ceilings(CpuDevice cpu, int repetitions, int gpuPeakBlocks) {
        this.cpu = cpu;
        this.repetitions = repetitions;
        this.gpuPeakBlocks = gpuPeakBlocks;
    }

    static Ceilings measure(CpuDevice cpu, int repetitions) { return new Ceilings(cpu, repetitions, GPU_PEAK_BLOCKS); }

    /** With GPU peak probes of {@code gpuPeakBlocks} blocks (tests on the cuda shim, which emulates every thread). */
    static Ceilings measure(CpuDevice cpu, int repetitions, int gpuPeakBlocks) { return new Ceilings(cpu, repetitions, gpuPeakBlocks); }

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
     * An op's median seconds, the median of its ceiling (GB/s or GFLOP/s), the ceiling's name, and
     * the median of its peer's seconds (null: no peer ran).
     */
    record Measured(double seconds, double ceiling, String ceilingName, Double peerSeconds) {
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
        boolean gpu = device.kind() == DeviceKind.CUDA;
        Device on = gpu ? device : cpu;
        // the copy's destination, or the row sums
        try (Tensor src = Tensor.empty(on, DType.F32, rows, cols); Tensor dst = Tensor.empty(on, DType.F32, memory == Memory.COPY ? n / 4 : rows)) {
            src.fillBytes((byte) 1);
            dst.fillBytes((byte) 0);
            double probed = memory == Memory.COPY ? 2.0 * n : 4.0 * rows * cols;
            Timing.Probe probe;
            if (gpu) {
                probe = Timing.deviceRate(device, memory == Memory.COPY
                        ? () -> device.copyOnDevice(src.dataAddress(), dst.dataAddress(), n, device.defaultStream())
                        : () -> Ops.rowSum(src, dst), probed);
            } else {
                Timing.Probe seconds = Timing.hostSeconds(memory == Memory.COPY
                        ? () -> cpu.library().copy(dst.dataAddress(), src.dataAddress(), n)
                        : () -> cpu.library().rowSum(0, src.dataAddress(), cols, dst.dataAddress(), rows, cols));
                probe = () -> probed / seconds.measure() / 1e9;
            }
            return alternated(device, op, repetitions, probe, peer, memory.label);
        }
    }

    /**
     * Times {@code op} on {@code device} beside the peak of the units it runs on, and {@code peer}
     * (null: none). On the cpu device: the FMA peak (GFLOP/s of fp32 FMAs on every pool thread, the
     * widest vectors its CPU build uses), or for bf16 the peak of the bf16 pair dot products where
     * its flash tiles run on them; on emu, the best CPU build's FMA peak; on cuda: fp32 FMAs, or
     * tensor-core MMAs of {@code dtype} where it is 16-bit. Each probe runs about as long as the
     * op's first run (which is slower than the timed ones), so that the two alternate finely.
     */
    Measured computeBound(Device device, DType dtype, Runnable op, int repetitions, TorchPeer peer) {
        if (device.kind() == DeviceKind.CUDA) return gpuComputeBound(device, dtype, op, repetitions, peer);
        CpuLibrary library = (device instanceof CpuDevice own ? own : cpu).library();
        // the dot-product probe gives -1 where the tiles widen bf16 to fp32 FMAs instead
        boolean dot = dtype == DType.BF16 && device instanceof CpuDevice && library.bf16DotPeakGflops(1) > 0;
        LongToDoubleFunction peak = dot ? library::bf16DotPeakGflops : library::fmaPeakGflops;
        long t = System.nanoTime();
        op.run();
        double opSeconds = (System.nanoTime() - t) / 1e9;
        t = System.nanoTime();
        peak.applyAsDouble(FMA_CALIBRATION);
        double perIteration = (System.nanoTime() - t) / 1e9 / FMA_CALIBRATION;
        long iterations = Math.clamp((long) (opSeconds / perIteration), FMA_MIN_ITERATIONS, FMA_ITERATIONS);
        return alternated(device, op, repetitions, () -> peak.applyAsDouble(iterations), peer, dot ? "BF16 dot peak" : "FMA peak");
    }

    private Measured gpuComputeBound(Device device, DType dtype, Runnable op, int repetitions, TorchPeer peer) {
        boolean mma = dtype != DType.F32;
        long elements = (long) gpuPeakBlocks * (mma ? Peaks.MMA_BLOCK_ELEMENTS : Peaks.FMA_BLOCK_ELEMENTS);
        try (Tensor out = Tensor.empty(device, DType.F32, elements)) {
            // one launch of `iterations`; returns its FLOPs
            IntToDoubleFunction launch = iterations -> mma ? Peaks.mma(dtype, out, 1f, iterations) : Peaks.fma(out, 1f, 1f, iterations);
            double opSeconds = Timing.deviceSeconds(device, op).measure();
            double calibrationSeconds = Timing.deviceSeconds(device, () -> launch.applyAsDouble(GPU_PEAK_CALIBRATION)).measure();
            int iterations = (int) Math.clamp((long) (GPU_PEAK_CALIBRATION * opSeconds / calibrationSeconds), GPU_PEAK_MIN, GPU_PEAK_MAX);
            double flops = launch.applyAsDouble(iterations);  // and a warm-up run at that length
            return alternated(device, op, repetitions, Timing.deviceRate(device, () -> launch.applyAsDouble(iterations), flops), peer,
                    mma ? "MMA peak" : "FMA peak");
        }
    }

    private static Measured alternated(Device device, Runnable op, int repetitions, Timing.Probe ceiling, TorchPeer peer, String ceilingName) {
        List<Timing.Probe> probes = peer == null ? List.of(ceiling) : List.of(ceiling, peer);
        double[] medians = Timing.alternated(device, op, probes, repetitions, peer != null);
        Double peerSeconds = peer == null || !peer.ok() ? null : medians[2];
        return new Measured(medians[0], medians[1], ceilingName, peerSeconds);
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
