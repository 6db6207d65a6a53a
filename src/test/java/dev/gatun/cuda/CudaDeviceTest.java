package dev.gatun.cuda;

import dev.gatun.bindings.cuda.CuResult;
import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.device.CachingAllocator;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.DeviceOutOfMemoryException;
import dev.gatun.device.Devices;
import dev.gatun.device.Dim3;
import dev.gatun.device.Event;
import dev.gatun.device.Kernel;
import dev.gatun.device.Stream;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuda device's own paths over the driver shim: copies, streams, events, module loading,
 * dynamic shared memory, and recoverable faults (out of memory, a launch that does not fit)
 * surfacing as clear Java exceptions after which the device keeps working and nothing leaks.
 */
@Tag("cuda")
class CudaDeviceTest {
    private CudaDevice cuda;

    @BeforeEach
    void open() {
        CudaShim.install();
        cuda = (CudaDevice) Devices.get("cuda");
    }

    @AfterEach
    void nothingLeaks() {
        CudaShim.configure("clear_faults", "1");
        var stats = cuda.allocator().stats();
        if (CudaShim.active())
            assertEquals(stats.inUseBytes() + stats.cachedBytes() > 0, CudaShim.liveAllocations() > 0,
                    "the shim holds memory exactly when the allocator does");
        cuda.allocator().emptyCache();
        if (CudaShim.active() && stats.inUseBytes() == 0) assertEquals(0, CudaShim.liveAllocations(), "every block went back");
    }

    @Test
    void describesTheDevice() {
        assertTrue(cuda.description().startsWith("cuda:0 "), cuda.description());
        assertFalse(cuda.hostAccessible());
    }

    @Test
    void reportsFreeMemoryAsTheDriverSeesIt() {
        long before = cuda.freeMemoryBytes();
        try (Tensor big = Tensor.empty(cuda, DType.F32, 16L << 20)) { // 64 MiB, more than the allocator caches
            long during = cuda.freeMemoryBytes();
            assertTrue(during <= before - (64L << 20), "free " + before + " -> " + during + " with 64 MiB allocated");
        }
    }

    @Test
    void copiesStreamsAndEvents() {
        float[] values = {1, -2, 3.5f, 4, 0.25f};
        try (Tensor a = Tensor.of(cuda, DType.F32, values, 5); Tensor b = Tensor.empty(cuda, DType.F32, 5);
             Stream stream = cuda.newStream(); Event start = cuda.newEvent(); Event end = cuda.newEvent()) {
            start.record(stream);
            b.copyFrom(a);
            end.record(stream);
            stream.synchronize();
            assertTrue(end.elapsedMillisSince(start) >= 0);
            assertArrayEquals(values, b.toFloatArray());
            b.fillBytes((byte) 0);
            assertArrayEquals(new float[5], b.toFloatArray());
        }
    }

    @Test
    void outOfMemoryIsAClearExceptionAndTheCacheIsGivenBack() {
        Tensor.empty(cuda, DType.F32, 1000).close(); // now a cached block
        long cachedBefore = cuda.allocator().stats().cachedBytes();
        assertTrue(cachedBefore > 0);
        CudaShim.configure("fail_alloc", "1");
        // another size class misses the cache; the device says out of memory once; the allocator
        // gives its cached blocks back and the retry succeeds
        Tensor.empty(cuda, DType.F32, 100_000).close();
        assertEquals(CachingAllocator.sizeClass(400_000), cuda.allocator().stats().cachedBytes(),
                "only the new block is cached: the 1000-float block was given back before the retry");
        cuda.allocator().emptyCache();
        CudaShim.configure("fail_alloc", "1");
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> Tensor.empty(cuda, DType.F32, 100_000));
        assertTrue(e.getMessage().contains("out of memory"), e.getMessage());
        try (Tensor t = Tensor.of(cuda, DType.F32, new float[] {1, 2}, 2)) {
            assertArrayEquals(new float[] {1, 2}, t.toFloatArray(), "the device keeps working");
        }
    }

    @Test
    void aLaunchThatDoesNotFitFailsClearlyAndTheDeviceRecovers() {
        try (Tensor x = Tensor.of(cuda, DType.F32, new float[] {1, 2, 3}, 1, 3)) {
            CudaShim.configure("fail_launch", "1");
            CudaException e = assertThrows(CudaException.class, () -> Ops.softmax(x).close());
            assertEquals(CuResult.LAUNCH_OUT_OF_RESOURCES, e.code());
            assertTrue(e.getMessage().startsWith("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"), e.getMessage());
            assertFalse(e.isSticky());
            try (Tensor y = Ops.softmax(x)) {
                float[] p = y.toFloatArray();
                assertEquals(1.0, p[0] + p[1] + p[2], 1e-6);
            }
        }
    }

    /** A block needing more registers than an SM has (ptxas: gatun_gemm_f32 uses 138, so at most 448 threads) is refused as on the hardware. */
    @Test
    void aBlockBeyondTheKernelsRegistersIsOutOfResources() {
        try (Tensor x = Tensor.of(cuda, DType.F32, new float[] {1}, 1, 1)) {
            CudaException e = assertThrows(CudaException.class, () -> cuda.launch(new Kernel("gemm", "gatun_gemm_f32"), Dim3.of(1), Dim3.of(512), 0,
                    cuda.defaultStream(), x, x, x, x, 1, 1, 1, 1, 1, 1));
            assertEquals(CuResult.LAUNCH_OUT_OF_RESOURCES, e.code(), e.getMessage());
            assertFalse(e.isSticky());
        }
    }

    @Test
    void unknownKernelsAndOversizedLaunchesAreDriverErrors() {
        try (Tensor x = Tensor.of(cuda, DType.F32, new float[] {1}, 1, 1)) {
            CudaException missing = assertThrows(CudaException.class, () -> cuda.launch(new Kernel("softmax", "gatun_no_such_kernel"),
                    Dim3.of(1), Dim3.of(32), 0, cuda.defaultStream(), x, x, 1L, 1L, 1L, 1L));
            assertEquals(CuResult.NOT_FOUND, missing.code());
            IllegalStateException noModule = assertThrows(IllegalStateException.class, () -> cuda.launch(
                    new Kernel("no_such_module", "k"), Dim3.of(1), Dim3.of(32), 0, cuda.defaultStream()));
            assertTrue(noModule.getMessage().contains("no_such_module"), noModule.getMessage());
            CudaException tooBig = assertThrows(CudaException.class, () -> cuda.launch(new Kernel("softmax", "gatun_softmax_f32"),
                    Dim3.of(1), new Dim3(2048, 1, 1), 0, cuda.defaultStream(), x, x, 1L, 1L, 1L, 1L));
            assertEquals(CuResult.INVALID_VALUE, tooBig.code());
        }
    }

    /** Above 48 KiB of dynamic shared memory the function attribute is raised first, as the hardware needs. */
    @Test
    void largeDynamicSharedMemoryIsAllowedFirst() {
        try (Tensor x = Tensor.of(cuda, DType.F32, new float[] {0, 0}, 1, 2); Tensor y = Tensor.empty(cuda, DType.F32, 1, 2)) {
            cuda.launch(new Kernel("softmax", "gatun_softmax_f32"), Dim3.of(1), Dim3.of(32), 100 * 1024, cuda.defaultStream(),
                    x, y, 1L, 2L, 2L, 2L);
            assertArrayEquals(new float[] {0.5f, 0.5f}, y.toFloatArray());
        }
    }
}
