package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The projection GEMM (y = x·wᵀ + bias, nn.Linear's layout) on every device and dtype against an
 * fp64 reference: odd shapes, one row (decode), shapes that take the large-tile path on kernels/
 * devices, with and without bias.
 */
@Tag("kernel")
class LinearKernelTest {
    record Shape(int m, int n, int k, boolean bias) {
        @Override public String toString() { return m + "x" + n + "x" + k + (bias ? " +bias" : ""); }
    }

    static List<Arguments> cases() {
        List<Shape> shapes = TestDevices.small()
                // 1300x1300 is enough output tiles for the 128x128 kernels; k = 8 keeps it cheap under TSan
                ? List.of(new Shape(1, 1, 1, false), new Shape(7, 13, 5, true), new Shape(33, 70, 40, false), new Shape(1300, 1300, 8, true))
                : List.of(new Shape(1, 1, 1, false), new Shape(7, 13, 5, true), new Shape(1, 300, 257, true),
                        new Shape(100, 300, 257, false), new Shape(64, 64, 64, true), new Shape(1300, 1300, 24, true));
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (Shape s : shapes) cases.add(Arguments.of(device, dtype, s));
        return cases;
    }

    @ParameterizedTest(name = "linear {0} {1} {2}")
    @MethodSource("cases")
    void linearMatchesTheReference(Device device, DType dtype, Shape s) {
        Random random = Seeds.random("linear" + device + dtype + s);
        float[] x = Reference.rounded(Seeds.gaussian(random, s.m() * s.k(), 1), dtype);
        float[] w = Reference.rounded(Seeds.gaussian(random, s.n() * s.k(), 1), dtype);
        float[] b = Reference.rounded(Seeds.gaussian(random, s.n(), 1), dtype);
        double[] expected = new double[s.m() * s.n()];
        float[] naive = new float[expected.length];
        for (int i = 0; i < s.m(); i++)
            for (int j = 0; j < s.n(); j++) {
                double acc = s.bias() ? b[j] : 0;
                float accF = 0;
                for (int p = 0; p < s.k(); p++) {
                    acc += (double) x[i * s.k() + p] * w[j * s.k() + p];
                    accF += x[i * s.k() + p] * w[j * s.k() + p];
                }
                expected[i * s.n() + j] = acc;
                naive[i * s.n() + j] = dtype.round(accF + (s.bias() ? b[j] : 0));
            }
        try (Tensor tx = Tensor.of(device, dtype, x, s.m(), s.k()); Tensor tw = Tensor.of(device, dtype, w, s.n(), s.k());
             Tensor tb = Tensor.of(device, dtype, b, s.n()); Tensor out = Tensor.empty(device, dtype, s.m(), s.n())) {
            out.fillBytes((byte) 0xFF);
            Ops.linear(tx, tw, s.bias() ? tb : null, out);
            Numerics.assertClose("linear " + device.description() + " " + dtype + " " + s, dtype, out.toFloatArray(), expected, naive);
        }
    }
}
