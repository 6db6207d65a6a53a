package dev.gatun.cuda;

import dev.gatun.bindings.cuda.CudaDriver;
import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        for (String property : List.of(CudaDriver.LIBRARY_PROPERTY, "gatun.cuda.shim.resources"))
            command.add("-D" + property + "=" + System.getProperty(property));
        command.add("dev.gatun.testing.StickyErrorOnShim");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(2, TimeUnit.MINUTES));
        assertEquals(0, process.exitValue(), output);
        assertTrue(output.contains("launch: CUDA_ERROR_ILLEGAL_ADDRESS sticky=true :: cuLaunchKernel failed"), output);
        assertTrue(output.contains("next op: cuda:0") && output.contains("is unusable since cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS"), output);
    }
}
