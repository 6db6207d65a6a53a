package dev.gatun.device;

import dev.gatun.bindings.gatun.CpuLibrary;
import dev.gatun.bindings.gatun.NativeResources;

import java.nio.file.Path;

/**
 * Fast CPU implementations of every op (native/cpu: vectorized, multi-threaded). Two builds ship:
 * x86-64-v3 (AVX2+FMA) and AVX-512; the AVX-512 one is chosen when cpuid says the machine has it,
 * never by compiling for the build machine.
 */
public final class CpuDevice extends HostDevice {
    public static final String ISA_V3 = "x86-64-v3", ISA_AVX512 = "avx512";

    private final CpuLibrary library;

    private CpuDevice(CpuLibrary library) {
        this.library = library;
    }

    /**
     * Loads the build for {@code isa}, or the best this machine runs when {@code isa} is null.
     * Threads: {@code -Dgatun.cpu.threads} (default: all hardware threads).
     */
    static CpuDevice load(String isa) {
        CpuLibrary baseline = CpuLibrary.open(library(ISA_V3));
        String chosen = isa != null ? isa : baseline.machineHasAvx512() ? ISA_AVX512 : ISA_V3;
        CpuLibrary library = switch (chosen) {
            case ISA_V3 -> baseline;
            case ISA_AVX512 -> {
                if (!baseline.machineHasAvx512())
                    throw new IllegalStateException("cpu:avx512 asked for, but this CPU lacks AVX-512 (F, BW, VL, DQ)");
                yield CpuLibrary.open(library(ISA_AVX512));
            }
            default -> throw new IllegalArgumentException("unknown cpu ISA '" + chosen + "': expected " + ISA_V3 + " or " + ISA_AVX512);
        };
        library.setThreads(Integer.getInteger("gatun.cpu.threads", 0));
        return new CpuDevice(library);
    }

    private static Path library(String isa) {
        return NativeResources.find("libgatun_cpu_" + isa + ".so", NativeResources.MAIN).orElseThrow(() ->
                new IllegalStateException("cpu device: libgatun_cpu_" + isa + ".so is not on the classpath (was native/build.sh run?)"));
    }

    @Override public DeviceKind kind() { return DeviceKind.CPU; }

    @Override
    public String description() {
        return "cpu: " + library.isa() + " build, " + library.threads() + " threads";
    }

    /** The native kernels; for the ops layer. */
    public CpuLibrary library() { return library; }
}
