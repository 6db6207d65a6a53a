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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** add, silu·mul, tanh-GELU and the embedding gather against fp64 references, odd sizes, every device and dtype. */
@Tag("kernel")
class ElementwiseKernelTest {
    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        int[] sizes = TestDevices.small() ? new int[] {1, 37} : new int[] {1, 37, 4099, 70_000};
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (int n : sizes) cases.add(Arguments.of(device, dtype, n));
        return cases;
    }

    @ParameterizedTest(name = "{0} {1} n={2}")
    @MethodSource("cases")
    void elementwiseOps(Device device, DType dtype, int n) {
        Random random = Seeds.random("elementwise" + device + dtype + n);
        float[] a = Reference.rounded(Seeds.gaussian(random, 2 * n, 2), dtype), b = Reference.rounded(Seeds.gaussian(random, 2 * n, 2), dtype);
        double[] sum = new double[2 * n], silu = new double[n], gelu = new double[2 * n];
        float[] sumNaive = new float[2 * n], siluNaive = new float[n], geluNaive = new float[2 * n];
        for (int i = 0; i < 2 * n; i++) {
            sum[i] = (double) a[i] + b[i];
            sumNaive[i] = dtype.round(a[i] + b[i]);
            double x = a[i];
            gelu[i] = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            // frameworks evaluate the formula in fp32, so 1 + tanh cancels for very negative x just as in the kernels
            float xf = a[i], tanh = (float) Math.tanh(0.7978845608f * (xf + 0.044715f * xf * xf * xf));
            geluNaive[i] = dtype.round(0.5f * xf * (1f + tanh));
        }
        int rows = n % 2 == 1 ? 1 : 2, cols = n / rows; // silu_mul over [rows, 2*cols]
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double g = a[r * 2 * cols + c], u = a[r * 2 * cols + cols + c];
                silu[r * cols + c] = g / (1 + Math.exp(-g)) * u;
                siluNaive[r * cols + c] = dtype.round(dtype.round((float) (g / (1 + Math.exp(-g)))) * (float) u);
            }
        String what = device.description() + " " + dtype + " n=" + n;
        try (Tensor ta = Tensor.of(device, dtype, a, 2 * n); Tensor tb = Tensor.of(device, dtype, b, 2 * n);
             Tensor out = Tensor.empty(device, dtype, 2 * n); Tensor x2 = Tensor.of(device, dtype, a, rows, 2 * cols);
             Tensor siluOut = Ops.siluMul(x2)) {
            out.fillBytes((byte) 0xFF);
            Ops.add(ta, tb, out);
            Numerics.assertClose("add " + what, dtype, out.toFloatArray(), sum, sumNaive);
            out.fillBytes((byte) 0xFF);
            Ops.geluTanh(ta, out);
            Numerics.assertClose("gelu " + what, dtype, out.toFloatArray(), gelu, geluNaive);
            Numerics.assertClose("siluMul " + what, dtype, siluOut.toFloatArray(), silu, siluNaive);
        }
    }

    static List<Device> devices() { return TestDevices.all(); }

    /** Where 1 + tanh(z) cancels in fp32 (x below about -3), GELU still keeps its digits. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void geluKeepsItsDigitsForVeryNegativeInputs(Device device) {
        float[] x = {-3f, -3.7f, -4.5f, -5.25f, -6f, -7.5f, -9f};
        double[] expected = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            expected[i] = v / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
        }
        try (Tensor in = Tensor.of(device, DType.F32, x, x.length); Tensor out = Tensor.empty(device, DType.F32, x.length)) {
            out.fillBytes((byte) 0xFF);
            Ops.geluTanh(in, out);
            Numerics.assertClose("gelu of very negative inputs " + device.description(), DType.F32, out.toFloatArray(), expected, null);
        }
    }

    @ParameterizedTest(name = "embedding {0} {1} n={2}")
    @MethodSource("cases")
    void embeddingGathersRowsExactly(Device device, DType dtype, int n) {
        Random random = Seeds.random("embedding" + device + dtype + n);
        int vocab = 50, hidden = Math.max(1, n / 40);
        float[] table = Reference.rounded(Seeds.gaussian(random, vocab * hidden, 1), dtype);
        int[] ids = random.ints(Math.max(1, n / hidden), 0, vocab).toArray();
        float[] expected = new float[ids.length * hidden];
        for (int t = 0; t < ids.length; t++) System.arraycopy(table, ids[t] * hidden, expected, t * hidden, hidden);
        try (Tensor tt = Tensor.of(device, dtype, table, vocab, hidden); Tensor out = Ops.embedding(ids, tt)) {
            assertArrayEquals(expected, out.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> Ops.embedding(new int[] {0, vocab}, tt), "ids are checked in Java");
            assertThrows(IllegalArgumentException.class, () -> Ops.embedding(new int[] {-1}, tt));
        }
    }
}
