package dev.gatun.testing;

import dev.gatun.tensor.DType;

/**
 * Plain, obviously correct implementations: {@code double} ones (the reference) and the naive
 * same-precision ones (every intermediate rounded to the dtype, sums accumulated in fp32, as
 * frameworks do) that bound what a low-precision kernel may be off by.
 */
public final class Reference {
    private Reference() {}

    public static double[] softmax(float[] x, int rows, int cols) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
            for (int c = 0; c < cols; c++) sum += Math.exp(x[r * cols + c] - max);
            for (int c = 0; c < cols; c++) y[r * cols + c] = Math.exp(x[r * cols + c] - max) / sum;
        }
        return y;
    }

    public static float[] softmaxNaive(float[] x, int rows, int cols, DType t) {
        float[] y = new float[x.length];
        for (int r = 0; r < rows; r++) {
            float max = Float.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
            float[] e = new float[cols];
            for (int c = 0; c < cols; c++) sum += e[c] = t.round((float) Math.exp(x[r * cols + c] - max));
            for (int c = 0; c < cols; c++) y[r * cols + c] = t.round(e[c] / sum);
        }
        return y;
    }

    public static double[] rmsNorm(float[] x, float[] w, float eps, int rows, int cols) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double sq = 0;
            for (int c = 0; c < cols; c++) sq += (double) x[r * cols + c] * x[r * cols + c];
            double inv = 1 / Math.sqrt(sq / cols + eps);
            for (int c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] * inv * w[c];
        }
        return y;
    }

    public static float[] rmsNormNaive(float[] x, float[] w, float eps, int rows, int cols, DType t) {
        float[] y = new float[x.length];
        for (int r = 0; r < rows; r++) {
            float sq = 0;
            for (int c = 0; c < cols; c++) sq += x[r * cols + c] * x[r * cols + c];
            float inv = t.round((float) (1 / Math.sqrt(sq / cols + eps)));
            for (int c = 0; c < cols; c++) y[r * cols + c] = t.round(t.round(x[r * cols + c] * inv) * w[c]);
        }
        return y;
    }

    public static double[] rowSum(float[] x, int rows, int cols) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) y[r] += x[r * cols + c];
        return y;
    }

    /** Each row's sum of |x|: the scale of a sum's rounding error. */
    public static double[] rowAbsSum(float[] x, int rows, int cols) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) y[r] += Math.abs(x[r * cols + c]);
        return y;
    }

    /** {@code v} rounded element-wise to {@code t} (what the device actually receives). */
    public static float[] rounded(float[] v, DType t) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = t.round(v[i]);
        return out;
    }
}
