package dev.gatun.cuda;

import dev.gatun.bindings.blas.CuBlas;
import dev.gatun.bindings.blas.CuBlasException;
import dev.gatun.bindings.cuda.CudaDriver;
import dev.gatun.testing.CudaShim;
import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuBLAS binding call by call (over the shim's cuBLAS subset in CI, the real library on a
 * GPU): every transpose combination with padded leading dimensions against an fp64 reference,
 * alpha and beta reaching the library, and failures as CuBlasExceptions naming call and status.
 */
@Tag("cuda")
class CuBlasTest {
    private CudaDriver driver;
    private CuBlas blas;
    private MemorySegment handle;

    @BeforeEach
    void open() {
        driver = CudaShim.driverOnDevice0();
        CuBlas.Availability a = CuBlas.load();
        assertTrue(a.available(), a.reason());
        blas = a.library().orElseThrow();
        handle = blas.create();
        blas.setStream(handle, CudaDriver.DEFAULT_STREAM);
    }

    @AfterEach
    void close() {
        if (handle != null) blas.destroy(handle);
        driver.primaryContextRelease(driver.deviceGet(0));
    }

    /** Column-major rows x cols with leading dimension ld, as a device allocation. */
    record Matrix(float[] host, int rows, int cols, int ld, long device) {
        float at(int i, int j) { return host[j * ld + i]; }
    }

    Matrix upload(Arena arena, Random random, int rows, int cols, int ld) {
        float[] host = new float[ld * cols];
        for (int e = 0; e < host.length; e++) host[e] = (float) random.nextGaussian();
        long device = driver.memAlloc(4L * host.length);
        driver.memcpyHtoD(device, arena.allocateFrom(JAVA_FLOAT, host));
        return new Matrix(host, rows, cols, ld, device);
    }

    @Test
    void gemmMatchesTheReferenceForEveryTransposeCombination() {
        Random random = Seeds.random("cublas-gemm");
        int m = 37, n = 19, k = 23;
        float alpha = 0.75f, beta = -1.5f;
        for (CuBlas.Op opA : CuBlas.Op.values())
            for (CuBlas.Op opB : CuBlas.Op.values())
                try (Arena arena = Arena.ofConfined()) {
                    Matrix a = opA == CuBlas.Op.N ? upload(arena, random, m, k, m + 3) : upload(arena, random, k, m, k + 1);
                    Matrix b = opB == CuBlas.Op.N ? upload(arena, random, k, n, k + 2) : upload(arena, random, n, k, n + 5);
                    Matrix c = upload(arena, random, m, n, m + 1);
                    blas.gemm(handle, opA, opB, m, n, k, alpha, a.device(), a.ld(), b.device(), b.ld(), beta, c.device(), c.ld(),
                            CuBlas.DataType.R_32F);
                    MemorySegment out = arena.allocate(JAVA_FLOAT, c.host().length);
                    driver.memcpyDtoH(out, c.device());
                    float[] got = out.toArray(JAVA_FLOAT);
                    for (int j = 0; j < n; j++)
                        for (int i = 0; i < m; i++) {
                            double acc = 0;
                            for (int p = 0; p < k; p++)
                                acc += (double) (opA == CuBlas.Op.N ? a.at(i, p) : a.at(p, i)) * (opB == CuBlas.Op.N ? b.at(p, j) : b.at(j, p));
                            double expected = alpha * acc + beta * c.at(i, j);
                            assertEquals(expected, got[j * c.ld() + i], 1e-4 * (1 + Math.abs(expected)), opA + "" + opB + " at " + i + "," + j);
                        }
                    for (int j = 0; j < n; j++) // the padding rows between columns stay untouched
                        for (int i = m; i < c.ld() && j * c.ld() + i < got.length; i++)
                            assertEquals(c.host()[j * c.ld() + i], got[j * c.ld() + i], "padding at " + i + "," + j);
                    for (Matrix x : new Matrix[] {a, b, c}) driver.memFree(x.device());
                }
    }

    @Test
    void failuresNameTheCallAndTheStatus() {
        try (Arena arena = Arena.ofConfined()) {
            Matrix a = upload(arena, new Random(1), 8, 8, 8);
            CuBlasException lda = assertThrows(CuBlasException.class, () -> blas.gemm(handle, CuBlas.Op.N, CuBlas.Op.N, 8, 8, 8, 1,
                    a.device(), 4, a.device(), 8, 0, a.device(), 8, CuBlas.DataType.R_32F));
            assertEquals("cublasGemmEx", lda.call());
            assertTrue(lda.getMessage().startsWith("cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE"), lda.getMessage());
            driver.memFree(a.device());
        }
        blas.destroy(handle);
        MemorySegment gone = handle;
        handle = null;
        CuBlasException destroyed = assertThrows(CuBlasException.class, () -> blas.version(gone));
        assertTrue(destroyed.getMessage().contains("CUBLAS_STATUS_NOT_INITIALIZED"), destroyed.getMessage());
    }

    @Test
    void aMissingLibraryIsAReasonNotAnException() {
        CuBlas.Availability missing = CuBlas.load(Path.of("/nonexistent/libcublas.so.13"));
        assertFalse(missing.available());
        assertEquals("/nonexistent/libcublas.so.13 not found", missing.reason());
        assertTrue(blas.version(handle) >= 120000, "cuBLAS 12 or later: " + blas.version(handle));
    }
}
