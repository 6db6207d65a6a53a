package dev.gatun.testing;

import dev.gatun.io.Safetensors;
import dev.gatun.io.Safetensors.HostTensor;
import dev.gatun.tensor.DType;
import dev.gatun.llm.LlamaConfig;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A small random-weight Llama saved in the Hugging Face layout (config.json + safetensors), and a
 * plain double-precision reference forward over a whole sequence with no cache.
 */
public final class TinyLlama {
    public final LlamaConfig config;
    public final Map<String, float[]> weights = new LinkedHashMap<>();
    public final Map<String, long[]> shapes = new LinkedHashMap<>();

    public TinyLlama(LlamaConfig config, Random random) {
        this.config = config;
        int h = config.hiddenSize(), inter = config.intermediateSize(), v = config.vocabSize();
        add("model.embed_tokens.weight", random, 1.0, v, h);
        for (int i = 0; i < config.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            norm(p + "input_layernorm.weight", random, h);
            add(p + "self_attn.q_proj.weight", random, 1 / Math.sqrt(h), config.qDim(), h);
            add(p + "self_attn.k_proj.weight", random, 1 / Math.sqrt(h), config.kvDim(), h);
            add(p + "self_attn.v_proj.weight", random, 1 / Math.sqrt(h), config.kvDim(), h);
            add(p + "self_attn.o_proj.weight", random, 1 / Math.sqrt(config.qDim()), h, config.qDim());
            norm(p + "post_attention_layernorm.weight", random, h);
            add(p + "mlp.gate_proj.weight", random, 1 / Math.sqrt(h), inter, h);
            add(p + "mlp.up_proj.weight", random, 1 / Math.sqrt(h), inter, h);
            add(p + "mlp.down_proj.weight", random, 1 / Math.sqrt(inter), h, inter);
        }
        norm("model.norm.weight", random, h);
        if (!config.tieWordEmbeddings()) add("lm_head.weight", random, 1 / Math.sqrt(h), v, h);
    }

    public static LlamaConfig config(boolean tied) {
        return new LlamaConfig(64, 128, 2, 4, 2, 16, 1e-5f, 10000f, 300, tied, 1024, DType.F32);
    }

    private void add(String name, Random random, double scale, long... shape) {
        int n = 1;
        for (long d : shape) n *= (int) d;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float) (random.nextGaussian() * scale);
        weights.put(name, values);
        shapes.put(name, shape);
    }

    private void norm(String name, Random random, int h) {
        float[] values = Seeds.gaussian(random, h, 0.1);
        for (int i = 0; i < h; i++) values[i] += 1;
        weights.put(name, values);
        shapes.put(name, new long[] {h});
    }

    public Map<String, HostTensor> hostTensors(DType dtype) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        weights.forEach((name, values) -> out.put(name, HostTensor.of(dtype, values, shapes.get(name))));
        return out;
    }

    /** Writes config.json and model.safetensors (or shards of about {@code shardBytes} when > 0) into {@code dir}. */
    public Path save(Path dir, DType dtype, long shardBytes) {
        config.save(dir);
        if (shardBytes > 0) Safetensors.writeSharded(dir, hostTensors(dtype), shardBytes);
        else Safetensors.write(dir.resolve("model.safetensors"), hostTensors(dtype), Map.of("format", "pt"));
        return dir;
    }

    // ---- the fp64 reference: the whole sequence from scratch, logits of every position ----

    public double[][] logits(int[] tokens) {
        LlamaConfig c = config;
        int n = tokens.length, h = c.hiddenSize(), hd = c.headDim(), nh = c.numHeads(), nkv = c.numKvHeads();
        double[][] x = new double[n][];
        float[] embed = weights.get("model.embed_tokens.weight");
        for (int t = 0; t < n; t++) {
            x[t] = new double[h];
            for (int j = 0; j < h; j++) x[t][j] = embed[tokens[t] * h + j];
        }
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            double[][] normed = rmsNorm(x, weights.get(p + "input_layernorm.weight"));
            double[][] q = matmul(normed, weights.get(p + "self_attn.q_proj.weight"), c.qDim());
            double[][] k = matmul(normed, weights.get(p + "self_attn.k_proj.weight"), c.kvDim());
            double[][] v = matmul(normed, weights.get(p + "self_attn.v_proj.weight"), c.kvDim());
            for (int t = 0; t < n; t++) {
                for (int head = 0; head < nh; head++) AttentionReference.rope(q[t], head * hd, t, hd, c.ropeTheta(), 0, null);
                for (int head = 0; head < nkv; head++) AttentionReference.rope(k[t], head * hd, t, hd, c.ropeTheta(), 0, null);
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
            double[][] o = matmul(attn, weights.get(p + "self_attn.o_proj.weight"), h);
            for (int t = 0; t < n; t++) for (int j = 0; j < h; j++) x[t][j] += o[t][j];
            normed = rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"));
            double[][] gate = matmul(normed, weights.get(p + "mlp.gate_proj.weight"), c.intermediateSize());
            double[][] up = matmul(normed, weights.get(p + "mlp.up_proj.weight"), c.intermediateSize());
            for (int t = 0; t < n; t++)
                for (int j = 0; j < c.intermediateSize(); j++) gate[t][j] = gate[t][j] / (1 + Math.exp(-gate[t][j])) * up[t][j];
            double[][] down = matmul(gate, weights.get(p + "mlp.down_proj.weight"), h);
            for (int t = 0; t < n; t++) for (int j = 0; j < h; j++) x[t][j] += down[t][j];
        }
        double[][] normed = rmsNorm(x, weights.get("model.norm.weight"));
        float[] head = weights.get(c.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
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
