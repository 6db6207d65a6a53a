package dev.gatun.cuda;

import dev.gatun.bindings.cuda.CuDeviceAttribute;
import dev.gatun.bindings.cuda.CuFunctionAttribute;
import dev.gatun.bindings.cuda.CuResult;
import dev.gatun.bindings.cuda.CudaAvailability;
import dev.gatun.bindings.cuda.CudaDriver;
import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.bindings.gatun.NativeResources;
import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The driver binding call by call (over the shim in CI, the real driver on a GPU): every call's
 * arguments reach the driver and every failure becomes a CudaException naming the call, the
 * CUresult and its message.
 */
@Tag("cuda")
class CudaDriverTest {
    private CudaDriver driver;

    @BeforeEach
    void open() {
        driver = CudaShim.driverOnDevice0();
    }

    @Test
    void deviceQueries() {
        assertTrue(driver.driverVersion() >= 12000);
        assertTrue(driver.deviceCount() >= 1);
        int dev = driver.deviceGet(0);
        assertEquals(0, driver.ctxGetDevice());
        assertTrue(!driver.deviceName(dev).isBlank());
        assertTrue(driver.deviceAttribute(CuDeviceAttribute.COMPUTE_CAPABILITY_MAJOR, dev) >= 8);
        assertEquals(32, driver.deviceAttribute(CuDeviceAttribute.WARP_SIZE, dev));
        assertTrue(driver.deviceAttribute(CuDeviceAttribute.MULTIPROCESSOR_COUNT, dev) > 0);
        long total = driver.deviceTotalMem(dev);
        CudaDriver.MemInfo info = driver.memGetInfo();
        assertTrue(info.total() == total && info.free() <= total);
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", driver.errorName(CuResult.OUT_OF_MEMORY));
        assertTrue(driver.errorString(CuResult.OUT_OF_MEMORY).contains("memory"));
        assertThrows(CudaException.class, () -> driver.deviceGet(99));
        driver.primaryContextRelease(dev);
    }

    @Test
    void synchronousMemoryCalls() {
        try (Arena arena = Arena.ofConfined()) {
            long a = driver.memAlloc(256), b = driver.memAlloc(256);
            MemorySegment host = arena.allocate(256);
            for (int i = 0; i < 64; i++) host.setAtIndex(JAVA_INT, i, i * 7);
            driver.memcpyHtoD(a, host);
            driver.memcpyDtoD(b, a, 256);
            driver.memsetD8(a, (byte) 3, 16);
            MemorySegment back = arena.allocate(256);
            driver.memcpyDtoH(back, b);
            assertArrayEquals(host.toArray(JAVA_INT), back.toArray(JAVA_INT));
            driver.memcpyDtoH(back, a);
            assertEquals(3, back.get(JAVA_BYTE, 15));
            if (CudaShim.active()) {  // the shim checks every range against its allocation, one byte past included
                CudaException past = assertThrows(CudaException.class, () -> driver.memcpyHtoD(a, arena.allocate(257)));
                assertTrue(past.getMessage().startsWith("cuMemcpyHtoD_v2 failed: CUDA_ERROR_INVALID_VALUE"), past.getMessage());
                assertThrows(CudaException.class, () -> driver.memcpyDtoD(b, a + 1, 256));
                assertThrows(CudaException.class, () -> driver.memsetD8(a + 200, (byte) 0, 57));
                driver.memsetD8(a + 200, (byte) 0, 56);  // up to the last byte exactly
            }
            driver.memFree(a);
            driver.memFree(b);
            CudaException doubleFree = assertThrows(CudaException.class, () -> driver.memFree(a));
            assertTrue(doubleFree.getMessage().startsWith("cuMemFree_v2 failed: CUDA_ERROR_INVALID_VALUE"), doubleFree.getMessage());
            assertEquals("cuMemFree_v2", doubleFree.call());
            driver.ctxSynchronize();
        }
        driver.primaryContextRelease(driver.deviceGet(0));
    }

    @Test
    void streamsEventsAndModules() throws IOException {
        MemorySegment stream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        MemorySegment timing = driver.eventCreate(CudaDriver.EVENT_DEFAULT);
        MemorySegment untimed = driver.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
        driver.eventRecord(timing, stream);
        driver.eventRecord(untimed, stream);
        driver.streamSynchronize(stream);
        driver.eventSynchronize(untimed);
        assertTrue(driver.eventElapsedTime(timing, timing) >= 0);
        assertThrows(CudaException.class, () -> driver.eventElapsedTime(untimed, timing), "no timing on that event");
        driver.eventDestroy(timing);
        driver.eventDestroy(untimed);
        driver.streamDestroy(stream);

        Path fatbin = NativeResources.find("softmax.fatbin", NativeResources.MAIN).orElseThrow();
        try (Arena arena = Arena.ofConfined()) {
            byte[] bytes = Files.readAllBytes(fatbin);
            MemorySegment image = arena.allocate(bytes.length);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, image, 0, bytes.length);
            MemorySegment module = driver.moduleLoadData(image);
            MemorySegment function = driver.moduleGetFunction(module, "gatun_softmax_f32");
            assertTrue(driver.funcGetAttribute(CuFunctionAttribute.NUM_REGS, function) > 0);
            driver.funcSetAttribute(function, CuFunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024);
            assertEquals(64 * 1024, driver.funcGetAttribute(CuFunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, function));
            CudaException missing = assertThrows(CudaException.class, () -> driver.moduleGetFunction(module, "gatun_rms_norm_f32"));
            assertEquals(CuResult.NOT_FOUND, missing.code());
            driver.moduleUnload(module);
            MemorySegment garbage = arena.allocateFrom("not a module at all");
            CudaException bad = assertThrows(CudaException.class, () -> driver.moduleLoadData(garbage));
            assertTrue(bad.getMessage().startsWith("cuModuleLoadDataEx failed"), bad.getMessage());
        }
        driver.primaryContextRelease(driver.deviceGet(0));
    }

    @Test
    void loadingSomethingThatIsNotADriverIsAReasonNotAnException() {
        CudaAvailability missing = CudaDriver.load(Path.of("/nonexistent/libcuda.so.1"));
        assertTrue(!missing.available() && missing.reason().contains("not found"), missing.reason());
        assertThrows(IllegalStateException.class, missing::require);
        assertTrue(CuResult.isSticky(700) && !CuResult.isSticky(CuResult.OUT_OF_MEMORY));
        assertEquals("CUDA_ERROR_NOT_FOUND", CuResult.name(CuResult.NOT_FOUND));
    }
}
