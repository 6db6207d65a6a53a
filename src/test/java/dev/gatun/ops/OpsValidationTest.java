package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong input is refused in Java, before any native call, with a message naming the argument. */
class OpsValidationTest {
    private final Device cpu = Devices.get("cpu");
    private final Device emu = Devices.get("emu");

    private static void refused(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should mention '" + expected + "'");
    }

    @Test
    void wrongDtypesShapesAndDevicesAreNamed() {
        try (Tensor ints = Tensor.of(cpu, new int[] {1, 2, 3, 4}, 2, 2);
             Tensor x = Tensor.empty(cpu, DType.F32, 2, 4);
             Tensor half = Tensor.empty(cpu, DType.F16, 2, 4);
             Tensor wrongShape = Tensor.empty(cpu, DType.F32, 2, 5);
             Tensor onEmu = Tensor.empty(emu, DType.F32, 2, 4);
             Tensor weight3 = Tensor.empty(cpu, DType.F32, 3);
             Tensor sums = Tensor.empty(cpu, DType.F16, 2)) {
            refused("x has dtype int32", () -> Ops.softmax(ints));
            refused("out must match x", () -> Ops.softmax(x, half));
            refused("out must match x", () -> Ops.softmax(x, wrongShape));
            refused("one device", () -> Ops.softmax(x, onEmu));
            refused("weight must be a contiguous fp32 vector of 4", () -> Ops.rmsNorm(x, weight3, 1e-5f));
            refused("eps", () -> Ops.rmsNorm(x, Tensor.empty(cpu, DType.F32, 4), -1f));
            refused("out must be a contiguous fp32 tensor of shape [2]", () -> Ops.rowSum(x, sums));
            try (Tensor transposed = x.transpose(0, 1)) {
                refused("last dimension must be contiguous", () -> Ops.softmax(transposed));
            }
        }
    }

    @Test
    void emptyInputsAreFine() {
        for (Device device : new Device[] {cpu, emu}) {
            try (Tensor none = Tensor.empty(device, DType.F32, 0, 16); Tensor sums = Ops.rowSum(Tensor.empty(device, DType.F32, 3, 0))) {
                try (Tensor out = Ops.softmax(none)) {
                    assertArrayEquals(new long[] {0, 16}, out.shape());
                }
                assertArrayEquals(new float[] {0, 0, 0}, sums.toFloatArray(), "the sum of an empty row is 0");
            }
        }
    }
}
