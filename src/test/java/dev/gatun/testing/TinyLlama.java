package dev.gatun.testing;

import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.RandomLlama;
import dev.gatun.tensor.DType;

import java.nio.file.Path;
import java.util.Random;

/**
 * A small random-weight Llama ({@link RandomLlama}) and a plain double-precision reference forward
 * over a whole sequence with no cache.
 */
public final class TinyLlama {
    public final LlamaConfig config;
    public final RandomLlama.Weights weights;

    public TinyLlama(LlamaConfig config, Random random) {
        this(config, RandomLlama.weights(config, random));
    }

    public TinyLlama(LlamaConfig config, RandomLlama.Weights weights) {
        this.config = config;
        this.weights = weights;
    }

    public static LlamaConfig config(boolean tied) {
        return new LlamaConfig(64, 128, 2, 4, 2, 16, 1e-5f, 10000f, 300, tied, 1024, DType.F32);
    }

    /** Writes config.json and model.safetensors (or shards of about {@code shardBytes} when > 0) into {@code dir}. */
    public Path save(Path dir, DType dtype, long shardBytes) {
        return RandomLlama.write(dir, config, weights, dtype, shardBytes);
    }

    // ---- the fp64 reference: the whole sequence from scratch, logits of every position ----

    public double[][] logits(int[] tokens) {
        LlamaConfig c = config;
        int n = tokens.length, h = c.hiddenSize(), hd = c.headDim(), nh = c.numHeads(), nkv = c.numKvHeads();
        double[][] x = new double[n][];
        float[] embed = weights.values().get("model.embed_tokens.weight");
        for (int t = 0; t < n; t++) {
            x[t] = new double[h];
            for (int j = 0; j < h; j++) x[t][j] = embed[tokens[t] * h + j];
        }
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            double[][] normed = rmsNorm(x, weights.values().get(p + "input_layernorm.weight"));
            double[][] q = matmul(normed, weights.values().get(p + "self_attn.q_proj.weight"), c.qDim());
            double[][] k = matmul(normed, weights.values().get(p + "self_attn.k_proj.weight"), c.kvDim());
            double[][] v = matmul(normed, weights.values().get(p + "self_attn.v_proj.weight"), c.kvDim());
            for (int t = 0; t < n; t++) {
                for (int head = 0; head < nh; head++) AttentionReference.rope(q[t], head * hd, t, hd, c.ropeTheta(), c.ropeScaling(), 0, null);
                for (int head = 0; head < nkv; head++) AttentionReference.rope(k[t], head * hd, t, hd, c.ropeTheta(), c.ropeScaling(), 0, null);
            }
            double[][] attn = new double[n][c.qDim()];
            double scale = 1 / Math.sqrt(hd);
            for (int t = 0; t < n; t++)
                for (int head = 0; head < nh; head++) {
                    int kvHead = head / (nh / nkv);
                    double[] scores = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += q[t][head * hd + d] * k[j][kvHead * hd + d];
                        scores[j] = dot * scale;
                        max = Math.max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += scores[j] = Math.exp(scores[j] - max);
                    for (int j = 0; j <= t; j++)
                        for (int d = 0; d < hd; d++) attn[t][head * hd + d] += scores[j] / sum * v[j][kvHead * hd + d];
                }
            double[][] o = matmul(attn, weights.values().get(p + "self_attn.o_proj.weight"), h);
            for (int t = 0; t < n; t++) for (int j = 0; j < h; j++) x[t][j] += o[t][j];
            normed = rmsNorm(x, weights.values().get(p + "post_attention_layernorm.weight"));
            double[][] gate = matmul(normed, weights.values().get(p + "mlp.gate_proj.weight"), c.intermediateSize());
            double[][] up = matmul(normed, weights.values().get(p + "mlp.up_proj.weight"), c.intermediateSize());
            for (int t = 0; t < n; t++)
                for (int j = 0; j < c.intermediateSize(); j++) gate[t][j] = gate[t][j] / (1 + Math.exp(-gate[t][j])) * up[t][j];
            double[][] down = matmul(gate, weights.values().get(p + "mlp.down_proj.weight"), h);
            for (int t = 0; t < n; t++) for (int j = 0; j < h; j++) x[t][j] += down[t][j];
        }
        double[][] normed = rmsNorm(x, weights.values().get("model.norm.weight"));
        float[] head = weights.values().get(c.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
        return matmul(normed, head, c.vocabSize());
    }

    /** Greedy continuation of {@code prompt} by the reference: {@code steps} tokens. */
    public int[] greedy(int[] prompt, int steps) {
        int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + steps);
        for (int s = 0; s < steps; s++) {
            double[][] all = logits(java.util.Arrays.copyOf(seq, prompt.length + s));
            seq[prompt.length + s] = argmax(all[all.length - 1]);
        }
        return java.util.Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    public static int argmax(double[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    /** Difference between the largest and second-largest value. */
    public static double margin(double[] row) {
        double a = Double.NEGATIVE_INFINITY, b = Double.NEGATIVE_INFINITY;
        for (double v : row) {
            if (v > a) {
                b = a;
                a = v;
            } else if (v > b) b = v;
        }
        return a - b;
    }

    private double[][] rmsNorm(double[][] x, float[] w) {
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double ss = 0;
            for (double v : x[t]) ss += v * v;
            double r = 1 / Math.sqrt(ss / x[t].length + config.rmsNormEps());
            out[t] = new double[x[t].length];
            for (int j = 0; j < x[t].length; j++) out[t][j] = x[t][j] * r * w[j];
        }
        return out;
    }

    /** x [n, in] · wᵀ with w [out, in]. */
    private static double[][] matmul(double[][] x, float[] w, int outFeatures) {
        double[][] out = new double[x.length][outFeatures];
        for (int t = 0; t < x.length; t++) {
            int in = x[t].length;
            for (int o = 0; o < outFeatures; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) s += x[t][i] * w[o * in + i];
                out[t][o] = s;
            }
        }
        return out;
    }
}
