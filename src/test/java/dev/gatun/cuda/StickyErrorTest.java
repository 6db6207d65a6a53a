package dev.gatun.cuda;

import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A launch with a pointer to freed device memory is an illegal address reported by the driver
 * (the shim checks every pointer argument), not a crash; it is sticky, and the device then
 * refuses further work with one sentence naming the first error. Runs in a child JVM because the
 * context stays poisoned for the rest of that process.
 */
@Tag("cuda")
class StickyErrorTest {
    @Test
    void aDanglingPointerIsAnIllegalAddressAndPoisonsTheDevice() throws Exception {
        if (!CudaShim.active()) return; // on a real GPU this would poison the context of the whole suite
        String output = CudaShim.runInChildJvm("dev.gatun.testing.StickyErrorOnShim");
        assertTrue(output.contains("launch: CUDA_ERROR_ILLEGAL_ADDRESS sticky=true :: cuLaunchKernel failed"), output);
        assertTrue(output.contains("next op: cuda:0") && output.contains("is unusable since cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS"), output);
    }
}
