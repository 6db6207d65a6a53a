package dev.gatun.testing;

import dev.gatun.diffusion.PredictionType;
import dev.gatun.diffusion.VideoDit;
import dev.gatun.diffusion.VideoDitConfig;
import dev.gatun.io.Safetensors;
import dev.gatun.tensor.DType;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A small random-weight {@link VideoDit} folder (written by {@link VideoDit#writeRandom}) and a plain
 * double-precision reference forward of the model it holds, from the weights as stored.
 */
public final class TinyVideoDit {
    public final Path dir;
    public final VideoDitConfig config;
    private final Map<String, float[]> weights = new HashMap<>();

    public TinyVideoDit(Path dir, VideoDitConfig config, long seed) {
        this.dir = VideoDit.writeRandom(dir, config, seed);
        this.config = config;
        try (Safetensors st = Safetensors.openModel(dir)) {
            for (String name : VideoDit.weightShapes(config).keySet()) weights.put(name, st.readFloats(name));
        }
    }

    /** 4 latent channels, 2×2×2 patches, D 32 with 2 heads of 16, 2 blocks (spatial then temporal unless full), 3 conditions. */
    public static VideoDitConfig config(boolean fullAttention) {
        return new VideoDitConfig(4, 2, 2, 2, 32, 2, 2, 64, 32, 3, fullAttention, PredictionType.EPSILON, 1e-6f, DType.F32);
    }

    // ---- the fp64 reference ----

    /** The model's output for latent {@code x [B, C, F, H, W]} (row-major), as the same layout. */
    public double[] forward(float[] x, int batch, int frames, int height, int width, double[] timesteps, int[] conditions) {
        VideoDitConfig c = config;
        int ch = c.inChannels(), pt = c.patchT(), ph = c.patchH(), pw = c.patchW(), d = c.hiddenSize(), p = c.patchSize();
        int tT = frames / pt, sH = height / ph, sW = width / pw, tokens = tT * sH * sW;
        double[] out = new double[x.length];
        for (int b = 0; b < batch; b++) {
            double[][] patches = new double[tokens][p];
            for (int tok = 0; tok < tokens; tok++)
                for (int f = 0; f < p; f++) patches[tok][f] = x[latentIndex(b, tok, f, frames, height, width)];
            double[][] h = linear(patches, "patch_embed");
            double[] act = conditioning(timesteps[b], conditions[b]);
            for (int i = 0; i < c.numLayers(); i++) {
                String bn = "blocks." + i + ".";
                double[] mod = linear(new double[][] {act}, bn + "adaLN_modulation")[0];
                double[][] n = adaLn(h, mod, 0, d);
                double[][] qkv = linear(n, bn + "attn.qkv");
                double[][] attn = attention(qkv, tT, sH * sW, c.fullAttention() ? 0 : i % 2 == 0 ? 1 : 2);
                residual(h, mod, 2 * d, linear(attn, bn + "attn.proj"));
                double[][] inner = linear(adaLn(h, mod, 3 * d, 4 * d), bn + "mlp.fc1");
                for (double[] row : inner) for (int j = 0; j < row.length; j++) row[j] = gelu(row[j]);
                residual(h, mod, 5 * d, linear(inner, bn + "mlp.fc2"));
            }
            double[] fin = linear(new double[][] {act}, "final_layer.adaLN_modulation")[0];
            double[][] y = linear(adaLn(h, fin, 0, d), "final_layer.linear");
            for (int tok = 0; tok < tokens; tok++)
                for (int f = 0; f < p; f++) out[latentIndex(b, tok, f, frames, height, width)] = y[tok][f];
        }
        return out;
    }

    private int latentIndex(int b, int tok, int feature, int frames, int height, int width) {
        VideoDitConfig c = config;
        int sW = width / c.patchW(), sCount = (height / c.patchH()) * sW;
        int t = tok / sCount, s = tok % sCount;
        int dw = feature % c.patchW(), dh = (feature / c.patchW()) % c.patchH(), dt = (feature / (c.patchW() * c.patchH())) % c.patchT();
        int ci = feature / (c.patchW() * c.patchH() * c.patchT());
        int z = t * c.patchT() + dt, yy = (s / sW) * c.patchH() + dh, xx = (s % sW) * c.patchW() + dw;
        return (((b * c.inChannels() + ci) * frames + z) * height + yy) * width + xx;
    }

    private double[] conditioning(double timestep, int condition) {
        int dim = config.frequencyDim(), half = dim / 2;
        double t = (float) timestep; // the model receives fp32 timesteps
        double[] freq = new double[dim];
        for (int j = 0; j < half; j++) {
            double arg = t * Math.exp(-Math.log(VideoDitConfig.MAX_PERIOD) * j / half);
            freq[j] = Math.cos(arg);
            freq[half + j] = Math.sin(arg);
        }
        double[] h = linear(new double[][] {freq}, "t_embedder.mlp.0")[0];
        for (int j = 0; j < h.length; j++) h[j] = gelu(h[j]);
        double[] c = linear(new double[][] {h}, "t_embedder.mlp.2")[0];
        float[] table = weights.get("cond_embed.weight");
        for (int j = 0; j < c.length; j++) c[j] = gelu(c[j] + table[condition * c.length + j]);
        return c;
    }

    /** LayerNorm without affine, then · (1 + mod[scaleAt..]) + mod[shiftAt..]. */
    private double[][] adaLn(double[][] x, double[] mod, int shiftAt, int scaleAt) {
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            int n = x[t].length;
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= n;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            double rstd = 1 / Math.sqrt(var / n + config.layerNormEps());
            out[t] = new double[n];
            for (int j = 0; j < n; j++) out[t][j] = (x[t][j] - mean) * rstd * (1 + mod[scaleAt + j]) + mod[shiftAt + j];
        }
        return out;
    }

    private static void residual(double[][] h, double[] mod, int gateAt, double[][] y) {
        for (int t = 0; t < h.length; t++) for (int j = 0; j < h[t].length; j++) h[t][j] += mod[gateAt + j] * y[t][j];
    }

    /** mode 0: all tokens; 1: the tokens of the same frame group; 2: the tokens at the same spatial position. */
    private double[][] attention(double[][] qkv, int tT, int sCount, int mode) {
        int d = config.hiddenSize(), heads = config.numHeads(), hd = config.headDim(), n = qkv.length;
        double scale = 1 / Math.sqrt(hd);
        double[][] out = new double[n][d];
        for (int i = 0; i < n; i++)
            for (int head = 0; head < heads; head++) {
                double[] w = new double[n];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    boolean sees = mode == 0 || (mode == 1 && i / sCount == j / sCount) || (mode == 2 && i % sCount == j % sCount);
                    if (!sees) {
                        w[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int e = 0; e < hd; e++) dot += qkv[i][head * hd + e] * qkv[j][d + head * hd + e];
                    w[j] = dot * scale;
                    max = Math.max(max, w[j]);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) sum += w[j] = Math.exp(w[j] - max);
                for (int j = 0; j < n; j++)
                    for (int e = 0; e < hd; e++) out[i][head * hd + e] += w[j] / sum * qkv[j][2 * d + head * hd + e];
            }
        return out;
    }

    /** x · Wᵀ + bias for the weight pair {@code name.weight [out, in]}, {@code name.bias [out]}. */
    private double[][] linear(double[][] x, String name) {
        float[] w = weights.get(name + ".weight"), bias = weights.get(name + ".bias");
        int outF = bias.length;
        double[][] out = new double[x.length][outF];
        for (int t = 0; t < x.length; t++) {
            int in = x[t].length;
            for (int o = 0; o < outF; o++) {
                double s = bias[o];
                for (int i = 0; i < in; i++) s += x[t][i] * w[o * in + i];
                out[t][o] = s;
            }
        }
        return out;
    }

    private static double gelu(double v) {
        return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    }
}
