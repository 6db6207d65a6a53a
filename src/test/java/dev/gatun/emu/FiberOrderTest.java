package dev.gatun.emu;

import dev.gatun.bindings.gatun.EmuLibrary;
import dev.gatun.device.Devices;
import dev.gatun.device.EmuDevice;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * A correct kernel does not depend on the order cuemu resumes its fibers in: every op gives
 * bit-identical results in forward, reverse and rotating order.
 */
@Tag("emu")
class FiberOrderTest {
    private final EmuDevice emu = (EmuDevice) Devices.get("emu");

    @AfterEach
    void restoreOrder() { emu.library().setOrder(EmuLibrary.Order.FORWARD); }

    @ParameterizedTest
    @EnumSource(value = EmuLibrary.Order.class, names = {"REVERSE", "ROTATING"})
    void resultsAreBitIdenticalInEveryOrder(EmuLibrary.Order order) {
        int rows = 3, cols = TestDevices.small() ? 300 : 2500;
        Random random = Seeds.random("order" + order);
        float[] x = Seeds.gaussian(random, rows * cols, 2);
        float[] w = Seeds.gaussian(random, cols, 1);
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            try (Tensor in = Tensor.of(emu, dtype, x, rows, cols); Tensor weight = Tensor.of(emu, dtype, w, cols)) {
                emu.library().setOrder(EmuLibrary.Order.FORWARD);
                float[][] forward = run(in, weight);
                emu.library().setOrder(order);
                float[][] other = run(in, weight);
                for (int i = 0; i < forward.length; i++) assertArrayEquals(forward[i], other[i], "op " + i + " " + dtype + " in " + order + " order");
            }
        }
    }

    private static float[][] run(Tensor x, Tensor w) {
        try (Tensor s = Ops.softmax(x); Tensor n = Ops.rmsNorm(x, w, 1e-6f); Tensor r = Ops.rowSum(x)) {
            return new float[][] {s.toFloatArray(), n.toFloatArray(), r.toFloatArray()};
        }
    }
}
