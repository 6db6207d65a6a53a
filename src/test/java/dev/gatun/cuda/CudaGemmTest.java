package dev.gatun.cuda;

import dev.gatun.device.CudaDevice;
import dev.gatun.device.Devices;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which GEMM the cuda device runs, reported and counted: cuBLAS (the shim's subset in CI) for
 * bias-free projections, kernels/gemm.cuh when the bias is fused. The values themselves are
 * checked by LinearKernelTest on this device.
 */
@Tag("cuda")
class CudaGemmTest {
    private CudaDevice cuda;

    @BeforeEach
    void open() {
        CudaShim.install();
        cuda = (CudaDevice) Devices.get("cuda");
    }

    @Test
    void theDeviceSaysWhichGemmRuns() {
        assertTrue(cuda.cublas().isPresent(), cuda.gemmLibrary());
        assertTrue(cuda.gemmLibrary().matches("cuBLAS \\d+\\.\\d+\\.\\d+ \\(.*libgatun_cudashim\\.so, cublasGemmEx\\)"), cuda.gemmLibrary());
    }

    @Test
    void biasFreeProjectionsRunOnCublasAndBiasedOnesOnTheKernel() {
        for (DType dtype : new DType[] {DType.F32, DType.F16, DType.BF16})
            try (Tensor x = Tensor.of(cuda, dtype, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
                 Tensor w = Tensor.of(cuda, dtype, new float[] {1, 0, -1, 0.5f, 0.5f, 0.5f}, 2, 3);
                 Tensor b = Tensor.of(cuda, dtype, new float[] {10, 20}, 2);
                 Tensor out = Tensor.empty(cuda, dtype, 2, 2)) {
                long calls = CudaShim.stat("library_calls"), launches = CudaShim.stat("launches");
                Ops.linear(x, w, null, out);
                assertEquals(calls + 1, CudaShim.stat("library_calls"), dtype + ": one cublasGemmEx");
                assertEquals(launches, CudaShim.stat("launches"), dtype + ": no kernel");
                // x·wᵀ = [[1-3, 3], [4-6, 7.5]]
                assertEquals(java.util.List.of(-2f, 3f, -2f, 7.5f), boxed(out.toFloatArray()), dtype.toString());
                Ops.linear(x, w, b, out);
                assertEquals(calls + 1, CudaShim.stat("library_calls"), dtype + ": the biased GEMM is not cuBLAS");
                assertEquals(launches + 1, CudaShim.stat("launches"), dtype + ": one gemm kernel");
                assertEquals(java.util.List.of(8f, 23f, 8f, 27.5f), boxed(out.toFloatArray()), dtype.toString());
            }
    }

    private static java.util.List<Float> boxed(float[] v) {
        java.util.List<Float> list = new java.util.ArrayList<>();
        for (float f : v) list.add(f);
        return list;
    }
}
