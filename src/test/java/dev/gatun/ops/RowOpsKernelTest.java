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

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * softmax, RMSNorm and row sum on every test device and dtype against the fp64 reference: odd
 * sizes, size 1, rows longer than a block (and than the register-resident path), strided rows
 * and rank-3 inputs. Outputs are poisoned with NaN first, so an element never written fails.
 */
@Tag("kernel")
class RowOpsKernelTest {
    /** rows, cols, extra columns of padding per row (a strided view when > 0), rank-3 split. */
    record Shape(int rows, int cols, int pad, boolean rank3) {
        @Override public String toString() { return rows + "x" + cols + (pad > 0 ? " stride " + (cols + pad) : "") + (rank3 ? " rank3" : ""); }
    }

    static List<Shape> shapes() {
        if (TestDevices.small())
            return List.of(new Shape(1, 1, 0, false), new Shape(3, 7, 0, false), new Shape(2, 33, 3, false),
                    new Shape(2, 1000, 0, true), new Shape(1, 9000, 0, false));
        return List.of(new Shape(1, 1, 0, false), new Shape(3, 7, 0, false), new Shape(5, 33, 0, false),
                new Shape(2, 1000, 0, false), new Shape(4, 4097, 0, false), new Shape(64, 4096, 0, true),
                new Shape(7, 300, 5, false), new Shape(2, 65537, 0, false));
    }

    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Arguments deviceAndDtype : devicesAndDtypes())
            for (Shape shape : shapes()) cases.add(Arguments.of(deviceAndDtype.get()[0], deviceAndDtype.get()[1], shape));
        return cases;
    }

    static List<Arguments> devicesAndDtypes() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16)) cases.add(Arguments.of(device, dtype));
        return cases;
    }

    @ParameterizedTest(name = "softmax {0} {1} {2}")
    @MethodSource("cases")
    void softmax(Device device, DType dtype, Shape shape) {
        Random random = Seeds.random("softmax" + device + dtype + shape);
        float[] x = Reference.rounded(Seeds.gaussian(random, shape.rows * shape.cols, 3), dtype);
        try (Tensor in = input(device, dtype, x, shape); Tensor out = poisoned(device, dtype, shape)) {
            Ops.softmax(in, out);
            Numerics.assertClose("softmax " + device.description() + " " + dtype + " " + shape, dtype, out.toFloatArray(),
                    Reference.softmax(x, shape.rows, shape.cols), Reference.softmaxNaive(x, shape.rows, shape.cols, dtype));
        }
    }

    /**
     * Masked (-inf) logits and logits spanning hundreds: most exps fall below the normal fp32 range
     * (the cpu device returns exact zeros there rather than subnormals, which cost Intel cores a
     * microcode assist each); the masked ones must come out exactly 0 and the row still match.
     */
    @ParameterizedTest(name = "softmax masked and wide {0} {1}")
    @MethodSource("devicesAndDtypes")
    void softmaxMaskedAndWide(Device device, DType dtype) {
        Shape shape = new Shape(3, 1000, 0, false);
        Random random = Seeds.random("softmaxMaskedAndWide" + device + dtype);
        float[] x = Seeds.gaussian(random, shape.rows * shape.cols, 60);
        for (int i = 0; i < x.length; i += 3) x[i] = Float.NEGATIVE_INFINITY;
        x = Reference.rounded(x, dtype);
        try (Tensor in = input(device, dtype, x, shape); Tensor out = poisoned(device, dtype, shape)) {
            Ops.softmax(in, out);
            String what = "softmax masked and wide " + device.description() + " " + dtype;
            float[] y = out.toFloatArray();
            Numerics.assertClose(what, dtype, y, Reference.softmax(x, shape.rows, shape.cols),
                    Reference.softmaxNaive(x, shape.rows, shape.cols, dtype));
            for (int i = 0; i < x.length; i += 3)
                assertTrue(y[i] == 0f, what + ": masked element " + i + " is " + y[i] + Seeds.replay());
        }
    }

    @ParameterizedTest(name = "rmsNorm {0} {1} {2}")
    @MethodSource("cases")
    void rmsNorm(Device device, DType dtype, Shape shape) {
        Random random = Seeds.random("rmsNorm" + device + dtype + shape);
        float[] x = Reference.rounded(Seeds.gaussian(random, shape.rows * shape.cols, 2), dtype);
        float[] w = Reference.rounded(Seeds.gaussian(random, shape.cols, 1), dtype);
        float eps = 0.25f;  // large enough against mean(x^2) ~ 4 that misplacing it shows
        try (Tensor in = input(device, dtype, x, shape); Tensor weight = Tensor.of(device, dtype, w, shape.cols);
             Tensor out = poisoned(device, dtype, shape)) {
            Ops.rmsNorm(in, weight, eps, out);
            Numerics.assertClose("rmsNorm " + device.description() + " " + dtype + " " + shape, dtype, out.toFloatArray(),
                    Reference.rmsNorm(x, w, eps, shape.rows, shape.cols), Reference.rmsNormNaive(x, w, eps, shape.rows, shape.cols, dtype));
        }
    }

    @ParameterizedTest(name = "rowSum {0} {1} {2}")
    @MethodSource("cases")
    void rowSum(Device device, DType dtype, Shape shape) {
        Random random = Seeds.random("rowSum" + device + dtype + shape);
        float[] x = Reference.rounded(Seeds.gaussian(random, shape.rows * shape.cols, 1), dtype);
        try (Tensor in = input(device, dtype, x, shape); Tensor out = Tensor.empty(device, DType.F32, leading(shape))) {
            out.fillBytes((byte) 0xFF);
            Ops.rowSum(in, out);
            // fp32 accumulation on every dtype. A sum's rounding error grows with the row's sum of |x|, not with the sum,
            // which can cancel to near 0 (relative to the sum, a 9000-value row failed 1e-5 about once in 400 seeds); relative
            // to sum |x|, fp32 accumulation in any order stays near 1e-9 here (simulated), so 1e-6 still catches a lost element
            String what = "rowSum " + device.description() + " " + dtype + " " + shape;
            float[] actual = out.toFloatArray();
            double[] reference = Reference.rowSum(x, shape.rows, shape.cols), magnitude = Reference.rowAbsSum(x, shape.rows, shape.cols);
            for (int r = 0; r < shape.rows; r++) {
                double error = Math.abs(actual[r] - reference[r]);  // NaN (an unwritten row) fails too
                assertTrue(error <= 1e-6 * magnitude[r], what + ": row " + r + " is " + actual[r] + ", expected " + reference[r]
                        + " (sum of |x| " + magnitude[r] + ")" + Seeds.replay());
            }
        }
    }

    /** The input as the op will see it: contiguous, a strided column slice of a wider tensor, or rank 3. */
    private static Tensor input(Device device, DType dtype, float[] x, Shape shape) {
        if (shape.pad > 0) {
            int stride = shape.cols + shape.pad;
            float[] wide = new float[shape.rows * stride];
            for (int r = 0; r < shape.rows; r++) System.arraycopy(x, r * shape.cols, wide, r * stride, shape.cols);
            try (Tensor full = Tensor.of(device, dtype, wide, shape.rows, stride)) {
                return full.slice(1, 0, shape.cols);
            }
        }
        return Tensor.of(device, dtype, x, leadingAndCols(shape));
    }

    private static Tensor poisoned(Device device, DType dtype, Shape shape) {
        Tensor out = Tensor.empty(device, dtype, leadingAndCols(shape));
        out.fillBytes((byte) 0xFF);
        return out;
    }

    private static long[] leadingAndCols(Shape s) {
        return s.rank3 ? new long[] {2, s.rows / 2, s.cols} : new long[] {s.rows, s.cols};
    }

    private static long[] leading(Shape s) {
        return s.rank3 ? new long[] {2, s.rows / 2} : new long[] {s.rows};
    }
}
