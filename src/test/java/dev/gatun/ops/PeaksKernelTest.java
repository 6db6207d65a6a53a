package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The ceiling probes of kernels/peak.cuh: every iteration of every thread or warp ran (their outputs are exact), and bad calls are refused. */
@Tag("kernel")
class PeaksKernelTest {
    static List<Arguments> devices() {
        List<Arguments> args = new ArrayList<>();
        for (Device device : TestDevices.all()) if (device.kind() != DeviceKind.CPU) args.add(Arguments.of(device));
        return args;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void fmaProbeRunsEveryChain(Device device) {
        int iterations = 37;
        try (Tensor out = Tensor.empty(device, DType.F32, 2 * Peaks.FMA_BLOCK_ELEMENTS)) {
            out.fillBytes((byte) 0xff); // NaN: an element not written stays NaN
            double flops = Peaks.fma(out, 1f, 1f, iterations);
            assertEquals(2.0 * 8 * iterations * out.numel(), flops);
            for (float v : out.toFloatArray()) assertEquals(8 * iterations + 28, v); // chains start at 0..7
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void mmaProbeRunsEveryAccumulator(Device device) {
        int iterations = 3;
        for (DType dtype : List.of(DType.F16, DType.BF16)) {
            try (Tensor out = Tensor.empty(device, DType.F32, 2 * Peaks.MMA_BLOCK_ELEMENTS)) {
                out.fillBytes((byte) 0xff);
                double flops = Peaks.mma(dtype, out, 1f, iterations);
                assertEquals(2.0 * 16 * 16 * 16 * 8 * iterations * 8, flops); // 8 warps
                for (float v : out.toFloatArray()) assertEquals(8 * 16 * iterations, v, dtype + ""); // 8 accumulators of 16 products of 1
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void badCallsAreRefusedBeforeALaunch(Device device) {
        try (Tensor odd = Tensor.empty(device, DType.F32, 300); Tensor half = Tensor.empty(device, DType.F16, 256);
             Tensor ok = Tensor.empty(device, DType.F32, 1024)) {
            assertThrows(IllegalArgumentException.class, () -> Peaks.fma(odd, 1f, 1f, 1));
            assertThrows(IllegalArgumentException.class, () -> Peaks.fma(half, 1f, 1f, 1));
            assertThrows(IllegalArgumentException.class, () -> Peaks.fma(ok, 1f, 1f, 0));
            assertThrows(IllegalArgumentException.class, () -> Peaks.mma(DType.F32, ok, 1f, 1));
        }
        try (Tensor cpu = Tensor.empty(Devices.get("cpu"), DType.F32, 256)) {
            assertThrows(IllegalArgumentException.class, () -> Peaks.fma(cpu, 1f, 1f, 1));
        }
    }
}
