package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.Dim3;
import dev.gatun.device.Kernel;
import dev.gatun.device.KernelLauncher;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * The ops on devices that run kernels/ (cuda and emu): picks each kernel's launch configuration
 * and launches it through the one launch path both share.
 */
record KernelBackend(Device device, KernelLauncher launcher) implements Backend {
    /** Grid-stride kernels accept any grid; this bounds it where more blocks buy nothing. */
    private static final long MAX_GRID = 1 << 16;

    @Override
    public void softmax(Rows x, Rows y) {
        launchRows("softmax", "gatun_softmax_", x, x.tensor(), y.tensor(), x.rows(), x.cols(), x.rowStride(), y.rowStride());
    }

    @Override
    public void rmsNorm(Rows x, Tensor weight, float eps, Rows y) {
        launchRows("rms_norm", "gatun_rms_norm_", x, x.tensor(), weight, y.tensor(), x.rows(), x.cols(),
                x.rowStride(), y.rowStride(), eps);
    }

    @Override
    public void rowSum(Rows x, Tensor out) {
        launchRows("reduce", "gatun_row_sum_", x, x.tensor(), out, x.rows(), x.cols(), x.rowStride());
    }

    /**
     * One block per row (grid-stride beyond MAX_GRID). Threads: the power of two in [32, 1024] that
     * gives each at most 8 elements, so rows up to 8192 stay in registers and are read once. It
     * depends on cols alone, which keeps each row's reduction order, and so its result, fixed.
     */
    private void launchRows(String module, String prefix, Rows x, Object... args) {
        if (x.rows() == 0) return;
        String name = prefix + suffix(x.dtype());
        long perThread8 = (x.cols() + 7) / 8;
        int threads = (int) Math.min(LaunchBounds.require(name).maxThreads(),
                Math.max(32, Long.highestOneBit(Math.max(1, perThread8) * 2 - 1)));
        launcher.launch(new Kernel(module, name), Dim3.of((int) Math.min(x.rows(), MAX_GRID)),
                Dim3.of(threads), 0, device.defaultStream(), args);
    }

    private static String suffix(DType dtype) {
        return switch (dtype) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new AssertionError(dtype);
        };
    }
}
