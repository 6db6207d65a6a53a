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
        Tensor out = Tensor.empty(x.device(), x.dtype(), x.shape());
        softmax(x, out);
        return out;
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
        Tensor out = Tensor.empty(x.device(), x.dtype(), x.shape());
        rmsNorm(x, weight, eps, out);
        return out;
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
        Tensor out = Tensor.empty(x.device(), DType.F32, Arrays.copyOf(x.shape(), x.rank() - 1));
        rowSum(x, out);
        return out;
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
