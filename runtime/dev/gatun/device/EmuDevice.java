package dev.gatun.device;

import dev.gatun.bindings.gatun.EmuLibrary;
import dev.gatun.bindings.gatun.NativeResources;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The kernels/ source compiled by g++ against cuemu and launched through the same Java call as on
 * cuda. Which build runs is {@code -Dgatun.emu.variant}: {@code plain} (default, ships in the jar),
 * {@code asan} or {@code tsan} (test classpath only; the JVM must preload the sanitizer runtime).
 */
public final class EmuDevice extends HostDevice implements KernelLauncher {
    private final EmuLibrary library;

    EmuDevice(EmuLibrary library) {
        this.library = library;
    }

    /** Loads the build named by {@code variant}, with the test kernels too when they are on the classpath. */
    static EmuDevice load(String variant) {
        String suffix = switch (variant) {
            case "plain" -> "";
            case "asan", "tsan" -> "_" + variant;
            default -> throw new IllegalArgumentException("gatun.emu.variant must be plain, asan or tsan, not '" + variant + "'");
        };
        Path runtime = required("libcuemu" + suffix + ".so");
        List<Path> kernels = new ArrayList<>();
        kernels.add(required("libgatun_kernels_emu" + suffix + ".so"));
        NativeResources.find("libgatun_testkernels_emu" + suffix + ".so", NativeResources.TEST).ifPresent(kernels::add);
        return new EmuDevice(EmuLibrary.open(runtime, kernels));
    }

    private static Path required(String file) {
        Optional<Path> path = NativeResources.find(file, NativeResources.MAIN, NativeResources.TEST);
        return path.orElseThrow(() -> new IllegalStateException("emu device: " + file + " is not on the classpath"
                + (file.contains("san") ? " (sanitizer builds ship only with the test classes)" : " (was native/build.sh run?)")));
    }

    @Override public DeviceKind kind() { return DeviceKind.EMU; }

    @Override
    public String description() {
        return "emu: CUDA kernels on CPU fibers (cuemu " + library.variant() + " build, "
                + library.kernelNames().size() + " kernels)";
    }

    /** The cuemu binding, for tests and tools that need its knobs (fiber order, workers, counts). */
    public EmuLibrary library() { return library; }

    @Override
    public void launch(Kernel kernel, Dim3 grid, Dim3 block, int dynamicSharedBytes, Stream stream, Object... args) {
        int[] expected = library.paramSizes(kernel.name());
        if (expected == null)
            throw new IllegalArgumentException("emu: no kernel named " + kernel.name() + " (module " + kernel.module() + ") was built");
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs packed = KernelArgs.pack(arena, this, kernel.name(), args);
            if (!Arrays.equals(expected, packed.sizes()))
                throw new IllegalArgumentException(kernel.name() + " takes parameters of " + Arrays.toString(expected)
                        + " bytes, the launch passed " + Arrays.toString(packed.sizes()));
            library.launch(kernel.name(), grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                    dynamicSharedBytes, packed.pointers());
        }
    }
}
