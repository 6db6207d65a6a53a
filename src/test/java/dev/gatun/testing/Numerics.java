package dev.gatun.testing;

import dev.gatun.tensor.DType;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Comparison against the fp64 reference. fp32: relative L2 error ≤ 1e-5. fp16/bf16 (the
 * FlashAttention rule): the kernel's error is at most 2× that of the naive computation done in the
 * same precision the way frameworks do it, plus a small floor. NaN anywhere (including an element
 * the kernel never wrote over its NaN poison) fails.
 */
public final class Numerics {
    public static final double FP32_BOUND = 1e-5;

    private Numerics() {}

    public static double relativeL2(float[] actual, double[] reference) {
        double num = 0, den = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - reference[i];
            num += d * d;
            den += reference[i] * reference[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    public static double maxAbs(float[] actual, double[] reference) {
        double m = 0;
        for (int i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i] - reference[i]));
        return m;
    }

    /** Checks {@code actual} against {@code reference}; {@code naive} is the same-precision baseline (unused for fp32). */
    public static void assertClose(String what, DType dtype, float[] actual, double[] reference, float[] naive) {
        if (actual.length != reference.length) fail(what + ": " + actual.length + " values, expected " + reference.length);
        for (int i = 0; i < actual.length; i++)
            if (!Float.isFinite(actual[i]))
                fail(what + ": element " + i + " is " + actual[i] + " (not written, or overflow)" + Seeds.replay());
        double error = relativeL2(actual, reference);
        double bound = dtype == DType.F32 ? FP32_BOUND : 2 * relativeL2(naive, reference) + 1e-4;
        assertTrue(error <= bound, () -> String.format("%s: relative L2 error %.3g > bound %.3g (max abs %.3g)%s",
                what, error, bound, maxAbs(actual, reference), Seeds.replay()));
    }
}
