package dev.gatun.ops;

import dev.gatun.bindings.gatun.CpuLibrary;
import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/** The ops on the cpu device: one downcall per op into native/cpu's vectorized, threaded kernels. */
record CpuBackend(CpuDevice device) implements Backend {
    @Override
    public void softmax(Rows x, Rows y) {
        device.library().softmax(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(),
                y.tensor().dataAddress(), y.rowStride(), x.rows(), x.cols());
    }

    @Override
    public void rmsNorm(Rows x, Tensor weight, float eps, Rows y) {
        device.library().rmsNorm(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(), weight.dataAddress(), eps,
                y.tensor().dataAddress(), y.rowStride(), x.rows(), x.cols());
    }

    @Override
    public void rowSum(Rows x, Tensor out) {
        device.library().rowSum(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(), out.dataAddress(), x.rows(), x.cols());
    }

    private static int code(DType dtype) {
        return switch (dtype) {
            case F32 -> CpuLibrary.F32;
            case F16 -> CpuLibrary.F16;
            case BF16 -> CpuLibrary.BF16;
            default -> throw new AssertionError(dtype);
        };
    }
}
