package dev.gatun.testing;

import dev.gatun.device.Devices;
import dev.gatun.device.Dim3;
import dev.gatun.device.EmuDevice;
import dev.gatun.device.Kernel;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * Child-JVM entry point for the sanitizer tests: launches one test kernel with arguments that
 * make it misbehave, on the emu build named by {@code -Dgatun.emu.variant}, then records launch
 * counts. A sanitizer report ends (ASan) or marks (TSan exit code) this process, not the test JVM.
 */
public final class LaunchTestKernel {
    private LaunchTestKernel() {}

    public static void main(String[] args) {
        EmuDevice emu = (EmuDevice) Devices.get("emu");
        int threads = 64;
        try (Tensor in = Tensor.of(emu, DType.F32, Seeds.gaussian(Seeds.random(args[0]), threads, 1), threads);
             Tensor out = Tensor.empty(emu, DType.F32, threads)) {
            Object[] kernelArgs = switch (args[0]) {
                case "test_oob_shared" -> new Object[] {out, 64 + 3};               // s[67] of a 64-element array
                case "test_oob_global" -> new Object[] {in, out, (long) threads};   // reads in[threads]
                case "test_missing_barrier", "test_with_barrier" -> new Object[] {in, out, (long) threads};
                default -> throw new IllegalArgumentException("no misuse defined for " + args[0]);
            };
            emu.launch(new Kernel("bad_kernels", args[0]), Dim3.of(1), Dim3.of(threads), 0, emu.defaultStream(), kernelArgs);
        }
        LaunchCounts.write();
        System.out.println("launched " + args[0]);
    }
}
