package dev.gatun.llm.engine;

import dev.gatun.ops.Sampling;

/**
 * A logit row's next-token distribution after temperature, top-k and top-p, in double precision,
 * following the steps of kernels/sampling.cuh (the same order, ties and cut-offs) so that it is
 * the distribution {@link Sampling#sample} draws from, up to fp32 rounding. Speculative decoding
 * needs the probabilities themselves, which the device sampler never materialises.
 */
final class TokenDistribution {
    private TokenDistribution() {}

    /** Probabilities (summing to 1) of {@code logits[from .. from + vocab)} under {@code params}; greedy is a point mass on the argmax. */
    static double[] of(float[] logits, int from, int vocab, Sampling.Params params) {
        double[] p = new double[vocab];
        long best = Long.MIN_VALUE;
        for (int i = 0; i < vocab; i++) best = Math.max(best, key(logits[from + i], i));
        if (!(params.temperature() > 0)) {
            p[index(best)] = 1;
            return p;
        }
        float m = canonical(logits[from + index(best)]);
        double t = params.temperature();
        for (int i = 0; i < vocab; i++) {
            float x = canonical(logits[from + i]);
            p[i] = x == m ? 1 : Math.exp((x - (double) m) / t);
        }
        int k = params.topK() <= 0 || params.topK() >= vocab ? vocab : params.topK();
        double kept;
        if (k == vocab && params.topP() >= 1) {
            kept = 0;
            for (double w : p) kept += w;
        } else {
            // sorted order: descending logit, lower index first on ties
            long[] keys = new long[vocab];
            for (int i = 0; i < vocab; i++) keys[i] = key(logits[from + i], i);
            java.util.Arrays.sort(keys);
            double total = 0;
            for (int j = 0; j < k; j++) total += p[index(keys[vocab - 1 - j])];
            kept = 0;
            int last = 0;
            while (last < k) { // the smallest prefix whose mass reaches topP of the top-k mass
                kept += p[index(keys[vocab - 1 - last++])];
                if (params.topP() < 1 && kept >= params.topP() * total) break;
            }
            for (int j = last; j < vocab; j++) p[index(keys[vocab - 1 - j])] = 0;
        }
        for (int i = 0; i < vocab; i++) p[i] /= kept;
        return p;
    }

    /** The token at which the running sum of {@code weights} (index order) first exceeds {@code u} × their total. */
    static int sample(double[] weights, float u) {
        double total = 0;
        for (double w : weights) total += w;
        double threshold = u * total, sum = 0;
        int last = -1;
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] <= 0) continue;
            sum += weights[i];
            last = i;
            if (sum > threshold) return i;
        }
        if (last < 0) throw new IllegalArgumentException("sample: no token has positive weight");
        return last; // the threshold rounded up to the total
    }

    /** NaN as -inf and -0 as +0, as the kernel orders logits. */
    private static float canonical(float x) {
        if (Float.isNaN(x)) return Float.NEGATIVE_INFINITY;
        return x == 0 ? 0f : x;
    }

    /**
     * The kernel's sort key as a signed long: the logit's bits made order-preserving (negative
     * floats' magnitude bits flipped) above the inverted index, so larger logit, then lower index,
     * is the larger key; unique per token.
     */
    private static long key(float x, int i) {
        int bits = Float.floatToRawIntBits(canonical(x));
        int ordered = bits < 0 ? bits ^ 0x7fffffff : bits;
        return (long) ordered << 32 | (0xffffffffL - i);
    }

    private static int index(long key) { return (int) (0xffffffffL - (key & 0xffffffffL)); }
}
