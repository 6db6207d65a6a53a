package dev.gatun.ops;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

/**
 * The cpu device's row ops write outputs of 64 MiB and more with streaming stores (native/cpu/rows.h),
 * each row's unaligned head first: softmax and RMSNorm on a 4200 x 4097 fp32 matrix, both CPU
 * builds, against the fp64 reference. (The emu kernels have no such path; RowOpsKernelTest covers
 * every device at ordinary sizes.)
 */
class CpuLargeRowsTest {
    @Test
    void streamedOutputsMatchTheReference() {
        List<CpuDevice> cpus = TestDevices.cpus();
        int rows = 4200, cols = 4097;
        float eps = 0.25f;
        Random random = Seeds.random("large-rows");
        float[] x = Seeds.gaussian(random, rows * cols, 2);
        float[] w = Seeds.gaussian(random, cols, 1);
        double[] softmax = Reference.softmax(x, rows, cols), rms = Reference.rmsNorm(x, w, eps, rows, cols);
        float[] softmaxNaive = Reference.softmaxNaive(x, rows, cols, DType.F32), rmsNaive = Reference.rmsNormNaive(x, w, eps, rows, cols, DType.F32);
        for (Device cpu : cpus)
            try (Tensor in = Tensor.of(cpu, DType.F32, x, rows, cols); Tensor weight = Tensor.of(cpu, DType.F32, w, cols);
                 Tensor out = Tensor.empty(cpu, DType.F32, rows, cols)) {
                out.fillBytes((byte) 0xFF);
                Ops.softmax(in, out);
                Numerics.assertClose("softmax " + cpu.description(), DType.F32, out.toFloatArray(), softmax, softmaxNaive);
                out.fillBytes((byte) 0xFF);
                Ops.rmsNorm(in, weight, eps, out);
                Numerics.assertClose("rmsNorm " + cpu.description(), DType.F32, out.toFloatArray(), rms, rmsNaive);
            }
    }
}
