package dev.gatun.bindings.gatun;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcalls into cuemu (native/cuemu/cuemu.h): the runtime that runs the unchanged CUDA kernel
 * source on CPU fibers. The runtime library is loaded first, then the kernel libraries, which
 * register their kernels with it when they load (their DT_NEEDED names the runtime's soname).
 * Libraries stay loaded for the life of the process (global arena): kernels may be launched at
 * any time and unloading code that fibers may still reference buys nothing.
 */
public final class EmuLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final int ERROR_CAPACITY = 8192;

    private final String variant;
    private final MethodHandle kernelCount, kernelName, paramCount, paramSize, launchCount, launch,
            setOrder, setWorkers;

    private EmuLibrary(SymbolLookup runtime) {
        kernelCount = handle(runtime, "cuemu_kernel_count", FunctionDescriptor.of(JAVA_INT));
        kernelName = handle(runtime, "cuemu_kernel_name", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        paramCount = handle(runtime, "cuemu_kernel_param_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        paramSize = handle(runtime, "cuemu_kernel_param_size", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        launchCount = handle(runtime, "cuemu_launch_count", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        launch = handle(runtime, "cuemu_launch", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
        setOrder = handle(runtime, "cuemu_set_order", FunctionDescriptor.ofVoid(JAVA_INT));
        setWorkers = handle(runtime, "cuemu_set_workers", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        MethodHandle variantHandle = handle(runtime, "cuemu_variant", FunctionDescriptor.of(ADDRESS));
        variant = cString((MemorySegment) invoke(variantHandle));
    }

    /** Loads the cuemu runtime at {@code runtime}, then each kernel library in order. */
    public static EmuLibrary open(Path runtime, List<Path> kernelLibraries) {
        EmuLibrary library = new EmuLibrary(SymbolLookup.libraryLookup(runtime, Arena.global()));
        for (Path kernels : kernelLibraries) SymbolLookup.libraryLookup(kernels, Arena.global());
        return library;
    }

    /** Loads one more kernel library into this runtime (e.g. a test's kernels). */
    public void addKernelLibrary(Path kernels) {
        SymbolLookup.libraryLookup(kernels, Arena.global());
    }

    /** "plain", "asan" or "tsan": which build of cuemu this is. */
    public String variant() { return variant; }

    /** Names of every kernel registered by the loaded kernel libraries. */
    public List<String> kernelNames() {
        int n = (int) invoke(kernelCount);
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) names.add(cString((MemorySegment) invoke(kernelName, i)));
        return names;
    }

    /** Byte sizes of {@code kernel}'s parameters, or null when no such kernel is registered. */
    public int[] paramSizes(String kernel) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(kernel);
            int n = (int) invoke(paramCount, name);
            if (n < 0) return null;
            int[] sizes = new int[n];
            for (int i = 0; i < n; i++) sizes[i] = (int) invoke(paramSize, name, i);
            return sizes;
        }
    }

    /** Launches of {@code kernel} in this process so far (-1 when unknown). */
    public long launchCount(String kernel) {
        try (Arena arena = Arena.ofConfined()) {
            return (long) invoke(launchCount, arena.allocateFrom(kernel));
        }
    }

    /**
     * Runs {@code kernel} to completion on the calling thread and cuemu's workers.
     *
     * @param args a {@code void**}: one pointer per kernel parameter, each to that parameter's value
     * @throws EmuLaunchException with cuemu's message when the launch is refused or the kernel fails a check
     */
    public void launch(String kernel, int gx, int gy, int gz, int bx, int by, int bz,
                       long dynamicSharedBytes, MemorySegment args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment error = arena.allocate(ERROR_CAPACITY);
            int status;
            try {
                status = (int) launch.invokeExact(arena.allocateFrom(kernel), gx, gy, gz, bx, by, bz,
                        dynamicSharedBytes, args, error, (long) ERROR_CAPACITY);
            } catch (Throwable t) {
                throw new IllegalStateException("cuemu_launch downcall failed", t);
            }
            if (status != 0) throw new EmuLaunchException(kernel, status, error.getString(0));
        }
    }

    /** Fiber resume order inside a block: a correct kernel gives the same result for each. */
    public enum Order { FORWARD, REVERSE, ROTATING }

    public void setOrder(Order order) { invoke(setOrder, order.ordinal()); }

    /** Sets the number of worker threads; returns the number in effect (1 in sanitizer builds). */
    public int setWorkers(int workers) { return (int) invoke(setWorkers, workers); }

    private static MethodHandle handle(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = lookup.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("cuemu runtime lacks " + name));
        return LINKER.downcallHandle(symbol, descriptor);
    }

    private static String cString(MemorySegment pointer) {
        return pointer.equals(MemorySegment.NULL) ? null : pointer.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static Object invoke(MethodHandle handle, Object... args) {
        try {
            return handle.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

}
