package dev.gatun.testing;

import dev.gatun.bindings.blas.CuBlas;
import dev.gatun.bindings.cuda.CudaAvailability;
import dev.gatun.bindings.cuda.CudaDriver;
import dev.gatun.device.Devices;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The test-scope CUDA driver shim (native/cudashim): present when {@code -Dgatun.cuda.library}
 * names it. It runs kernels through cuemu, so the emu device (cuemu and the kernel libraries) is
 * loaded before the binding loads the shim; then its ptxas table and fault injection are set
 * through {@code gatun_cudashim_configure}.
 */
public final class CudaShim {
    private static MethodHandle configure, liveAllocations, liveBytes, stat;

    private CudaShim() {}

    /** Whether this JVM's cuda device is the shim. */
    public static boolean active() {
        return System.getProperty(CudaDriver.LIBRARY_PROPERTY) != null;
    }

    /** Prepares the shim once, before anything opens the cuda device. */
    public static synchronized void install() {
        if (configure != null || !active()) return;
        Devices.get("emu");
        Linker linker = Linker.nativeLinker();
        SymbolLookup shim = SymbolLookup.libraryLookup(Path.of(System.getProperty(CudaDriver.LIBRARY_PROPERTY)), Arena.global());
        configure = linker.downcallHandle(shim.find("gatun_cudashim_configure").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        liveAllocations = linker.downcallHandle(shim.find("gatun_cudashim_live_allocations").orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
        liveBytes = linker.downcallHandle(shim.find("gatun_cudashim_live_bytes").orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
        stat = linker.downcallHandle(shim.find("gatun_cudashim_stat").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        String resources = System.getProperty("gatun.cuda.shim.resources");
        if (resources != null) configure("resources", resources);
    }

    /**
     * The driver binding with device 0's primary context retained and current on this thread (the
     * caller releases it): the start of every test that drives the binding directly.
     */
    public static CudaDriver driverOnDevice0() {
        install();
        CudaAvailability availability = CudaDriver.load();
        assertTrue(availability.available(), availability.reason());
        CudaDriver driver = availability.require();
        driver.ctxSetCurrent(driver.primaryContextRetain(driver.deviceGet(0)));
        return driver;
    }

    /** Sets a shim knob: resources, fail_alloc, fail_launch, sticky_launch, memory_mb. */
    public static void configure(String key, String value) {
        install();
        try (Arena arena = Arena.ofConfined()) {
            int status = (int) configure.invokeExact(arena.allocateFrom(key), arena.allocateFrom(value));
            if (status != 0) throw new IllegalArgumentException("shim refused " + key + "=" + value + " (status " + status + ")");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A shim counter by name (cudashim.h): "launches", "library_calls", "live_allocations", ... */
    public static long stat(String name) {
        install();
        try (Arena arena = Arena.ofConfined()) {
            long value = (long) stat.invokeExact(arena.allocateFrom(name));
            if (value < 0) throw new IllegalArgumentException("the shim has no counter " + name);
            return value;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Runs {@code mainClass} in a child JVM on the same shim (a sticky error poisons the CUDA
     * context for the rest of its process) and returns its output after checking it exited 0.
     */
    public static String runInChildJvm(String mainClass) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        for (String property : List.of(CudaDriver.LIBRARY_PROPERTY, CuBlas.LIBRARY_PROPERTY, "gatun.cuda.shim.resources"))
            command.add("-D" + property + "=" + System.getProperty(property));
        command.add(mainClass);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(2, TimeUnit.MINUTES)) throw new AssertionError(mainClass + " did not finish:\n" + output);
        if (process.exitValue() != 0) throw new AssertionError(mainClass + " exited " + process.exitValue() + ":\n" + output);
        return output;
    }

    /** Device allocations the shim holds now (the caching allocator's cached blocks included). */
    public static long liveAllocations() {
        install();
        try {
            return (long) liveAllocations.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static long liveBytes() {
        install();
        try {
            return (long) liveBytes.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
