package dev.gatun.ops;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The public ops API. Every op checks shapes, dtypes and devices here, in Java, before any native
 * call, and names the argument and what was expected; then it runs on the tensors' device.
 * Row-wise ops work over the last dimension; fp16/bf16 inputs are computed in fp32.
 */
public final class Ops {
    private Ops() {}

    /** softmax over the last dimension, numerically safe (max-subtracted); a new tensor. */
    public static Tensor softmax(Tensor x) {
        return into(Tensor.empty(x.device(), x.dtype(), x.shape()), out -> softmax(x, out));
    }

    /** softmax of {@code x} into {@code out} (same shape and dtype; {@code out == x} is allowed). */
    public static void softmax(Tensor x, Tensor out) {
        String op = "softmax";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, out);
        requireSame(op, "out", x, out);
        Backends.of(x.device()).softmax(Rows.of(op, "x", x), Rows.of(op, "out", out));
    }

    /** RMSNorm over the last dimension: {@code x * rsqrt(mean(x^2) + eps) * weight}; a new tensor. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        return into(Tensor.empty(x.device(), x.dtype(), x.shape()), out -> rmsNorm(x, weight, eps, out));
    }

    public static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        String op = "rmsNorm";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, weight, out);
        requireSame(op, "out", x, out);
        long cols = x.rank() == 0 ? 0 : x.shape(x.rank() - 1);
        if (weight.rank() != 1 || weight.shape(0) != cols || weight.dtype() != x.dtype() || !weight.isContiguous())
            throw new IllegalArgumentException(op + ": weight must be a contiguous " + x.dtype() + " vector of " + cols
                    + " elements (x's last dimension), got " + describe(weight));
        if (!(eps > 0) || !Float.isFinite(eps)) throw new IllegalArgumentException(op + ": eps must be a positive finite number, got " + eps);
        Backends.of(x.device()).rmsNorm(Rows.of(op, "x", x), weight, eps, Rows.of(op, "out", out));
    }

    /** Sums over the last dimension in fp32: shape {@code x.shape[:-1]}, dtype fp32. */
    public static Tensor rowSum(Tensor x) {
        requireFloating("rowSum", "x", x);
        return into(Tensor.empty(x.device(), DType.F32, Arrays.copyOf(x.shape(), x.rank() - 1)), out -> rowSum(x, out));
    }

    public static void rowSum(Tensor x, Tensor out) {
        String op = "rowSum";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, out);
        long[] expected = Arrays.copyOf(x.shape(), x.rank() - 1);
        if (out.dtype() != DType.F32 || !Arrays.equals(out.shape(), expected) || !out.isContiguous())
            throw new IllegalArgumentException(op + ": out must be a contiguous fp32 tensor of shape " + Arrays.toString(expected)
                    + ", got " + describe(out));
        Rows rows = Rows.of(op, "x", x);
        if (rows.cols() == 0) out.fillBytes((byte) 0); // the sum of an empty row is 0
        else Backends.of(x.device()).rowSum(rows, out);
    }

    /**
     * A linear layer: {@code out = x · wᵀ + bias} over the last dimension of x, with w in
     * nn.Linear's layout {@code [outFeatures, inFeatures]}; bias may be null. A new tensor.
     */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        requireFloating("linear", "x", x);
        long[] shape = x.shape();
        shape[shape.length - 1] = w.rank() == 2 ? w.shape(0) : 0;
        return into(Tensor.empty(x.device(), x.dtype(), shape), out -> linear(x, w, bias, out));
    }

    public static void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        String op = "linear";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, w, out);
        long in = x.shape(x.rank() - 1);
        if (w.rank() != 2 || w.shape(1) != in || w.dtype() != x.dtype() || !w.isContiguous())
            throw new IllegalArgumentException(op + ": w must be a contiguous " + x.dtype() + " [outFeatures, " + in + "] tensor, got " + describe(w));
        long outFeatures = w.shape(0);
        if (bias != null && (bias.rank() != 1 || bias.shape(0) != outFeatures || bias.dtype() != x.dtype() || bias.device() != x.device()))
            throw new IllegalArgumentException(op + ": bias must be a " + x.dtype() + " vector of " + outFeatures + " on " + x.device() + ", got " + describe(bias));
        long[] expected = x.shape();
        expected[expected.length - 1] = outFeatures;
        if (out.dtype() != x.dtype() || !Arrays.equals(out.shape(), expected))
            throw new IllegalArgumentException(op + ": out must be " + x.dtype() + " " + Arrays.toString(expected) + ", got " + describe(out));
        if (in > Integer.MAX_VALUE || outFeatures > Integer.MAX_VALUE)
            throw new IllegalArgumentException(op + ": dimensions beyond 2^31 are not supported, got " + describe(w));
        if (in == 0) throw new IllegalArgumentException(op + ": x has no input features");
        Backends.of(x.device()).linear(Rows.of(op, "x", x), w, bias, Rows.of(op, "out", out));
    }

    /** {@code out = a + b} elementwise (residual connections); {@code out} may be {@code a} or {@code b}. */
    public static void add(Tensor a, Tensor b, Tensor out) {
        String op = "add";
        requireFloating(op, "a", a);
        requireSameDevice(op, a, b, out);
        requireSame(op, "b", a, b);
        requireSame(op, "out", a, out);
        requireContiguous(op, a, b, out);
        Backends.of(a.device()).add(a, b, out);
    }

    /** SwiGLU's {@code silu(gate) * up} for {@code x [..., 2*n] = [gate | up]}: a new tensor {@code [..., n]}. */
    public static Tensor siluMul(Tensor x) {
        requireFloating("siluMul", "x", x);
        long[] shape = x.shape();
        shape[shape.length - 1] /= 2;
        return into(Tensor.empty(x.device(), x.dtype(), shape), out -> siluMul(x, out));
    }

    public static void siluMul(Tensor x, Tensor out) {
        String op = "siluMul";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, out);
        requireContiguous(op, x, out);
        long cols2 = x.shape(x.rank() - 1);
        long[] expected = x.shape();
        expected[expected.length - 1] = cols2 / 2;
        if (cols2 % 2 != 0 || out.dtype() != x.dtype() || !Arrays.equals(out.shape(), expected))
            throw new IllegalArgumentException(op + ": x's last dimension must be even ([gate | up]) and out " + x.dtype() + " "
                    + Arrays.toString(expected) + ", got x " + describe(x) + " and out " + describe(out));
        long cols = cols2 / 2;
        Backends.of(x.device()).siluMul(x, out, cols == 0 ? 0 : out.numel() / cols, cols);
    }

    /** The tanh form of GELU, elementwise. */
    public static void geluTanh(Tensor x, Tensor out) {
        String op = "geluTanh";
        requireFloating(op, "x", x);
        requireSameDevice(op, x, out);
        requireSame(op, "out", x, out);
        requireContiguous(op, x, out);
        Backends.of(x.device()).geluTanh(x, out);
    }

    /** Rows of {@code table [vocab, hidden]} for the token ids: a new tensor {@code [ids.length, hidden]}. */
    public static Tensor embedding(int[] ids, Tensor table) {
        String op = "embedding";
        requireFloating(op, "table", table);
        if (table.rank() != 2 || !table.isContiguous())
            throw new IllegalArgumentException(op + ": table must be a contiguous [vocab, hidden] tensor, got " + describe(table));
        long vocab = table.shape(0);
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException(op + ": token id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")");
        return into(Tensor.empty(table.device(), table.dtype(), ids.length, table.shape(1)), out -> {
            if (ids.length == 0) return;
            try (Tensor idTensor = Tensor.of(table.device(), ids, ids.length)) {
                Backends.of(table.device()).embedding(idTensor, table, out);
            }
        });
    }

    /** Runs {@code op} into the new tensor {@code out} and returns it; frees it when the op fails, so nothing leaks. */
    private static Tensor into(Tensor out, java.util.function.Consumer<Tensor> op) {
        try {
            op.accept(out);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    private static void requireContiguous(String op, Tensor... tensors) {
        for (Tensor t : tensors)
            if (!t.isContiguous()) throw new IllegalArgumentException(op + ": tensors must be contiguous, got strides " + Arrays.toString(t.strides()));
    }

    private static void requireFloating(String op, String name, Tensor t) {
        if (!t.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op + ": " + name + " has dtype " + t.dtype() + ", expected fp32, fp16 or bf16");
        if (t.rank() == 0) throw new IllegalArgumentException(op + ": " + name + " must have at least one dimension");
    }

    private static void requireSame(String op, String name, Tensor x, Tensor other) {
        if (other.dtype() != x.dtype() || !Arrays.equals(other.shape(), x.shape()))
            throw new IllegalArgumentException(op + ": " + name + " must match x (" + describe(x) + "), got " + describe(other));
    }

    private static void requireSameDevice(String op, Tensor x, Tensor... others) {
        for (Tensor t : others)
            if (t.device() != x.device())
                throw new IllegalArgumentException(op + ": all tensors must be on one device; x is on " + x.device() + ", another on " + t.device());
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Arrays.toString(t.shape());
    }
}
