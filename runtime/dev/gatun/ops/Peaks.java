package dev.gatun.ops;

import dev.gatun.device.DeviceKind;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * Ceiling probes on the devices that run kernels/ (kernels/peak.cuh): kernels that keep the fp32
 * FMA units, or the tensor cores, busy and nothing else. The benchmarks time them beside an op on
 * the cuda device (its "% of ceiling"); on the cpu device the CPU library's FMA probe plays that
 * part. Each call launches one kernel on the device's default stream and returns the floating-point
 * operations it performs; what it writes is exact and known (see peak.cuh), so a test can check it.
 */
public final class Peaks {
    /** out elements per block of the FMA probe (one per thread). */
    public static final int FMA_BLOCK_ELEMENTS = 256;
    /** out elements per block of the MMA probe (256 per warp, 4 warps). */
    public static final int MMA_BLOCK_ELEMENTS = 1024;
    private static final int FMA_CHAINS = 8, MMAS = 8;

    private Peaks() {}

    /**
     * fp32 FMA chains {@code acc = acc * mul + add} on every thread of out.numel() / 256 blocks,
     * {@code iterations} each: out[t] = the sum of thread t's 8 chains, started at 0..7.
     */
    public static double fma(Tensor out, float mul, float add, int iterations) {
        KernelBackend backend = check("fma", out, FMA_BLOCK_ELEMENTS, iterations);
        backend.fmaPeak(out, (int) (out.numel() / FMA_BLOCK_ELEMENTS), mul, add, iterations);
        return 2.0 * FMA_CHAINS * iterations * out.numel();
    }

    /**
     * 16x16x16 tensor-core MMAs (wmma, fp32 accumulation) of {@code dtype} (F16 or BF16) operands
     * all equal to {@code value}, 8 accumulators per warp, {@code iterations} each, on
     * out.numel() / 1024 blocks of 4 warps: each warp's 256 floats of out = their sum.
     */
    public static double mma(DType dtype, Tensor out, float value, int iterations) {
        if (dtype != DType.F16 && dtype != DType.BF16)
            throw new IllegalArgumentException("Peaks.mma: dtype must be F16 or BF16, got " + dtype);
        KernelBackend backend = check("mma", out, MMA_BLOCK_ELEMENTS, iterations);
        backend.mmaPeak(dtype, out, (int) (out.numel() / MMA_BLOCK_ELEMENTS), value, iterations);
        return 2.0 * 16 * 16 * 16 * MMAS * iterations * (out.numel() / 256);
    }

    private static KernelBackend check(String op, Tensor out, int blockElements, int iterations) {
        String what = "Peaks." + op;
        if (out.device().kind() == DeviceKind.CPU)
            throw new IllegalArgumentException(what + ": the cpu device has no kernels (its FMA probe is CpuLibrary.fmaPeakGflops)");
        if (out.dtype() != DType.F32 || !out.isContiguous())
            throw new IllegalArgumentException(what + ": out must be a contiguous F32 tensor, got " + out.dtype() + " " + out);
        long blocks = out.numel() / blockElements;
        if (out.numel() % blockElements != 0 || blocks < 1 || blocks > Integer.MAX_VALUE)
            throw new IllegalArgumentException(what + ": out must hold a positive multiple of " + blockElements + " elements, got " + out.numel());
        if (iterations < 1) throw new IllegalArgumentException(what + ": iterations must be >= 1, got " + iterations);
        return (KernelBackend) Backends.of(out.device());
    }
}
