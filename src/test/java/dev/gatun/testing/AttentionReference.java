package dev.gatun.testing;

import dev.gatun.ops.Attention;
import dev.gatun.tensor.DType;

/**
 * Plain double-precision attention, RoPE and cache layouts for the tests; {@code rounding} (a
 * dtype) gives the naive same-precision variant: every product and sum rounded to that type.
 */
public final class AttentionReference {
    private AttentionReference() {}

    /**
     * inv_freq_i = theta^(-2i/rotaryDim), scaled as transformers' rope_scaling "linear" (divided by
     * the factor) or "llama3" (by wavelength: long / factor, short kept, smooth in between), rounded
     * to fp32; angle = pos * inv_freq_i in fp32 (as models are trained).
     */
    public static float angle(int position, int i, int rotaryDim, float theta, Attention.RopeScaling scaling) {
        double invFreq = Math.pow(theta, -2.0 * i / rotaryDim);
        if (scaling.factor() != 1 && scaling.originalMaxPositions() == 0) {
            invFreq /= scaling.factor();
        } else if (scaling.factor() != 1) {
            double wavelen = 2 * Math.PI / invFreq, old = scaling.originalMaxPositions();
            double lowFreqWavelen = old / scaling.lowFreqFactor(), highFreqWavelen = old / scaling.highFreqFactor();
            if (wavelen > lowFreqWavelen) invFreq /= scaling.factor();
            else if (wavelen >= highFreqWavelen) {
                double smooth = (old / wavelen - scaling.lowFreqFactor()) / (scaling.highFreqFactor() - scaling.lowFreqFactor());
                invFreq = (1 - smooth) * invFreq / scaling.factor() + smooth * invFreq;
            }
        }
        return position * (float) invFreq;
    }

    /** RoPE of one head vector {@code x[offset .. offset+headDim)} in place; style 0 NeoX, 1 interleaved. */
    public static void rope(double[] x, int offset, int position, int rotaryDim, float theta, int style, DType rounding) {
        rope(x, offset, position, rotaryDim, theta, Attention.RopeScaling.NONE, style, rounding);
    }

    public static void rope(double[] x, int offset, int position, int rotaryDim, float theta, Attention.RopeScaling scaling,
                            int style, DType rounding) {
        for (int i = 0; i < rotaryDim / 2; i++) {
            int a = style == 0 ? i : 2 * i, b = style == 0 ? i + rotaryDim / 2 : 2 * i + 1;
            double angle = angle(position, i, rotaryDim, theta, scaling);
            double c = round(Math.cos(angle), rounding), s = round(Math.sin(angle), rounding);
            double xa = x[offset + a], xb = x[offset + b];
            x[offset + a] = round(round(xa * c, rounding) - round(xb * s, rounding), rounding);
            x[offset + b] = round(round(xb * c, rounding) + round(xa * s, rounding), rounding);
        }
    }

    /**
     * softmax(scale · q·kᵀ)·v for one query row over keys {@code keys[j]} (rows of {@code k} and
     * {@code v} at the given element offsets), returning {out..., lse}.
     */
    public static double[] attend(double[] q, int qOffset, double[] k, double[] v, int[] keyOffsets, int headDim, double scale,
                                  DType rounding) {
        double[] result = new double[headDim + 1];
        if (keyOffsets.length == 0) {
            result[headDim] = Double.NEGATIVE_INFINITY;
            return result;
        }
        double[] scores = new double[keyOffsets.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < keyOffsets.length; j++) {
            double dot = 0;
            for (int d = 0; d < headDim; d++) dot += q[qOffset + d] * k[keyOffsets[j] + d];
            scores[j] = round(dot * scale, rounding);
            max = Math.max(max, scores[j]);
        }
        double sum = 0;
        for (int j = 0; j < scores.length; j++) sum += scores[j] = round(Math.exp(scores[j] - max), rounding);
        for (int j = 0; j < scores.length; j++) {
            double p = round(scores[j] / sum, rounding);
            for (int d = 0; d < headDim; d++) result[d] += p * v[keyOffsets[j] + d];
        }
        for (int d = 0; d < headDim; d++) result[d] = round(result[d], rounding);
        result[headDim] = max + Math.log(sum);
        return result;
    }

    public static double round(double value, DType rounding) {
        return rounding == null ? value : rounding.round((float) value);
    }

    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    public static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
