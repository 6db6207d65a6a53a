package dev.gatun.diffusion;

import dev.gatun.device.Device;
import dev.gatun.io.Safetensors;
import dev.gatun.ops.DitOps;
import dev.gatun.ops.Ops;
import dev.gatun.ops.VideoAttention;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small video diffusion transformer (DiT, Peebles &amp; Xie 2023, with the factorised space/time
 * attention of video DiTs) assembled from Gatun ops and loaded from a folder with {@code config.json}
 * ({@link VideoDitConfig}) and {@code model.safetensors}. For a latent {@code x [B, C, F, H, W]}:
 * <pre>
 *   h   = patch_embed(patchify(x))                          [B, T·S, D]   (T = F/pt, S = (H/ph)(W/pw))
 *   c   = t_mlp(timestep_embedding(t)) + cond_embed[id]     [B, D];  a = gelu(c)
 *   per block:  shift1 scale1 gate1 shift2 scale2 gate2 = adaLN_modulation(a)     (DiT's order)
 *       h += gate1 · proj(attention(qkv(adaLN(h; shift1, scale1))))
 *       h += gate2 · fc2(gelu(fc1(adaLN(h; shift2, scale2))))
 *   out = unpatchify(final.linear(adaLN(h; final.adaLN_modulation(a))))  [B, C, F, H, W]
 * </pre>
 * Attention is spatial (the S tokens of one frame group) in even blocks and temporal (the T tokens
 * at one position) in odd ones, or over all T·S tokens in every block when the config says
 * {@code "attention": "full"}. There is no positional embedding: the tiny models this runs are for
 * exercising the kernels, and attention within a frame or along time is what the factorisation is
 * about. Differences from DiT, on purpose: the conditioning MLP and the pre-modulation activation use
 * tanh-GELU (Gatun's op) where DiT uses SiLU.
 *
 * <p>Conditioning: a condition id per sample picks a row of {@code cond_embed.weight
 * [numConditions + 1, D]}; the last row is the learned "null" condition, so classifier-free guidance
 * runs the same batch with the sample's id and with {@link VideoDitConfig#nullCondition()}.
 * Every op works per sample, so a sample's output does not depend on the rest of the batch (on cpu
 * and emu, bit for bit). Not thread-safe: one engine thread drives a model.
 */
public final class VideoDit implements AutoCloseable {
    private final VideoDitConfig config;
    private final Device device;
    private final DType dtype;
    private final Tensor patchW, patchB, t0W, t0B, t2W, t2B, condEmbed, finalModW, finalModB, finalW, finalB;
    private final List<Block> blocks;
    private final List<Tensor> owned;
    private boolean closed;

    /** qkv [3D, D] is sliced into its q, k and v rows, so each projection is one contiguous linear. */
    private record Block(Tensor modW, Tensor modB, Tensor qkvW, Tensor qkvB, Tensor projW, Tensor projB,
                         Tensor fc1W, Tensor fc1B, Tensor fc2W, Tensor fc2B) {}

    private VideoDit(VideoDitConfig config, Device device, DType dtype, Loader l) {
        this.config = config;
        this.device = device;
        this.dtype = dtype;
        patchW = l.load("patch_embed.weight");
        patchB = l.load("patch_embed.bias");
        t0W = l.load("t_embedder.mlp.0.weight");
        t0B = l.load("t_embedder.mlp.0.bias");
        t2W = l.load("t_embedder.mlp.2.weight");
        t2B = l.load("t_embedder.mlp.2.bias");
        condEmbed = l.load("cond_embed.weight");
        List<Block> bs = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            String p = "blocks." + i + ".";
            bs.add(new Block(l.load(p + "adaLN_modulation.weight"), l.load(p + "adaLN_modulation.bias"),
                    l.load(p + "attn.qkv.weight"), l.load(p + "attn.qkv.bias"), l.load(p + "attn.proj.weight"), l.load(p + "attn.proj.bias"),
                    l.load(p + "mlp.fc1.weight"), l.load(p + "mlp.fc1.bias"), l.load(p + "mlp.fc2.weight"), l.load(p + "mlp.fc2.bias")));
        }
        blocks = List.copyOf(bs);
        finalModW = l.load("final_layer.adaLN_modulation.weight");
        finalModB = l.load("final_layer.adaLN_modulation.bias");
        finalW = l.load("final_layer.linear.weight");
        finalB = l.load("final_layer.linear.bias");
        owned = l.loaded();
    }

    /** Every weight of a model with this config, by safetensors name, with its shape (nn.Linear layout [out, in]). */
    public static Map<String, long[]> weightShapes(VideoDitConfig c) {
        long d = c.hiddenSize(), m = c.mlpHidden(), p = c.patchSize();
        Map<String, long[]> w = new LinkedHashMap<>();
        linear(w, "patch_embed", d, p);
        linear(w, "t_embedder.mlp.0", d, c.frequencyDim());
        linear(w, "t_embedder.mlp.2", d, d);
        w.put("cond_embed.weight", new long[] {c.numConditions() + 1L, d});
        for (int i = 0; i < c.numLayers(); i++) {
            String b = "blocks." + i + ".";
            linear(w, b + "adaLN_modulation", 6 * d, d);
            linear(w, b + "attn.qkv", 3 * d, d);
            linear(w, b + "attn.proj", d, d);
            linear(w, b + "mlp.fc1", m, d);
            linear(w, b + "mlp.fc2", d, m);
        }
        linear(w, "final_layer.adaLN_modulation", 2 * d, d);
        linear(w, "final_layer.linear", p, d);
        return w;
    }

    private static void linear(Map<String, long[]> w, String name, long out, long in) {
        w.put(name + ".weight", new long[] {out, in});
        w.put(name + ".bias", new long[] {out});
    }

    /**
     * Writes config.json and model.safetensors (fp32) with seeded random weights into {@code dir}: a model to
     * run the whole pipeline without a checkpoint. Linear weights ~ N(0, 1/in) (adaLN projections half that
     * scale, so the modulation stays near identity), biases ~ N(0, 0.01), condition embeddings ~ N(0, 1).
     */
    public static Path writeRandom(Path dir, VideoDitConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, Safetensors.HostTensor> tensors = new LinkedHashMap<>();
        weightShapes(config).forEach((name, shape) -> {
            double scale = name.endsWith(".bias") ? 0.1 : name.equals("cond_embed.weight") ? 1
                    : (name.contains("adaLN_modulation") ? 0.5 : 1) / Math.sqrt(shape[1]);
            float[] v = new float[Math.toIntExact(shape[0] * (shape.length > 1 ? shape[1] : 1))];
            for (int i = 0; i < v.length; i++) v[i] = (float) (random.nextGaussian() * scale);
            tensors.put(name, Safetensors.HostTensor.of(DType.F32, v, shape));
        });
        config.save(dir);
        Safetensors.write(dir.resolve(Safetensors.SINGLE_FILE), tensors, Map.of("format", "pt"));
        return dir;
    }

    /** Loads the model in {@code dir} onto {@code device} in the config's {@code torch_dtype}. */
    public static VideoDit load(Path dir, Device device) {
        requireFolder(dir);
        VideoDitConfig config = VideoDitConfig.load(dir);
        return load(dir, config, device, config.torchDtype());
    }

    /** Loads the model in {@code dir} onto {@code device}, converting the weights to {@code dtype}. */
    public static VideoDit load(Path dir, Device device, DType dtype) {
        requireFolder(dir);
        return load(dir, VideoDitConfig.load(dir), device, dtype);
    }

    private static void requireFolder(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("model folder " + dir + " does not exist or is not a folder");
    }

    private static VideoDit load(Path dir, VideoDitConfig config, Device device, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be fp32, fp16 or bf16, got " + dtype);
        List<Tensor> loaded = new ArrayList<>();
        try (Safetensors st = Safetensors.openModel(dir)) {
            VideoDit model = new VideoDit(config, device, dtype, new Loader(st, weightShapes(config), device, dtype, loaded));
            device.synchronize();
            return model;
        } catch (RuntimeException e) {
            for (Tensor t : loaded) t.close();
            throw e;
        }
    }

    /** Loads named weights, checking each shape against the config. */
    private record Loader(Safetensors st, Map<String, long[]> shapes, Device device, DType dtype, List<Tensor> loaded) {
        Tensor load(String name) {
            long[] shape = shapes.get(name);
            Safetensors.Entry e = st.entry(name);
            if (!Arrays.equals(e.shape(), shape))
                throw new IllegalArgumentException("weight '" + name + "' in " + e.file() + " has shape " + Arrays.toString(e.shape())
                        + ", but config.json implies " + Arrays.toString(shape));
            Tensor t = Tensor.empty(device, dtype, shape);
            loaded.add(t);
            st.copyInto(name, t);
            return t;
        }
    }

    public VideoDitConfig config() { return config; }

    public Device device() { return device; }

    public DType dtype() { return dtype; }

    /**
     * Checks that a latent of {@code channels × frames × height × width} fits this model (its channels,
     * and sizes that are whole multiples of the patch), or says why in one sentence.
     */
    public void requireLatentShape(long channels, long frames, long height, long width) {
        if (channels != config.inChannels())
            throw new IllegalArgumentException("the latent has " + channels + " channels, the model takes " + config.inChannels());
        DitOps.Patches.of("VideoDit", new long[] {1, channels, frames, height, width}, config.patchT(), config.patchH(), config.patchW());
    }

    /**
     * The model's prediction for {@code x [B, C, F, H, W]} at {@code timesteps[b]} under condition
     * {@code conditions[b]} (0..numConditions, the last being the null condition): a new tensor like x.
     */
    public Tensor forward(Tensor x, double[] timesteps, int[] conditions) {
        if (closed) throw new IllegalStateException("the model is closed");
        if (x.rank() != 5) throw new IllegalArgumentException("VideoDit: x must be [batch, channels, frames, height, width], got " + Arrays.toString(x.shape()));
        if (x.device() != device || x.dtype() != dtype)
            throw new IllegalArgumentException("VideoDit: x must be " + dtype + " on " + device + ", got " + x);
        requireLatentShape(x.shape(1), x.shape(2), x.shape(3), x.shape(4));
        int batch = Math.toIntExact(x.shape(0));
        if (timesteps.length != batch || conditions.length != batch)
            throw new IllegalArgumentException("VideoDit: " + batch + " samples need as many timesteps and condition ids, got "
                    + timesteps.length + " and " + conditions.length);
        for (double t : timesteps)
            if (!Double.isFinite(t) || Math.abs(t) > Float.MAX_VALUE) throw new IllegalArgumentException("VideoDit: timestep " + t + " is not a finite fp32 number");
        for (int id : conditions)
            if (id < 0 || id > config.numConditions())
                throw new IllegalArgumentException("VideoDit: condition id " + id + " is outside [0, " + config.numConditions()
                        + "] (" + config.nullCondition() + " = unconditional)");
        DitOps.Patches p = DitOps.Patches.of("VideoDit", x.shape(), config.patchT(), config.patchH(), config.patchW());
        int d = config.hiddenSize();
        long tokensT = p.tokensT(), tokensS = p.tokensS();
        float[] t32 = new float[batch];
        for (int i = 0; i < batch; i++) t32[i] = (float) timesteps[i];
        try (Scope s = new Scope()) {
            Tensor patches = s.add(DitOps.patchify(x, config.patchT(), config.patchH(), config.patchW()));
            Tensor h = s.add(Ops.linear(s.add(patches.reshape(batch, tokensT * tokensS, config.patchSize())), patchW, patchB));
            Tensor act = conditioning(s, t32, conditions);
            Tensor mod = s.add(Tensor.empty(device, dtype, batch, 6L * d));
            Tensor normed = s.add(Tensor.empty(device, dtype, batch, tokensT * tokensS, d));
            for (int i = 0; i < blocks.size(); i++) {
                Block b = blocks.get(i);
                Ops.linear(act, b.modW(), b.modB(), mod);
                DitOps.adaLayerNorm(h, s.add(mod.slice(1, 0, d)), s.add(mod.slice(1, d, 2L * d)), config.layerNormEps(), normed);
                Tensor attn = s.add(attention(s, normed, b, i, batch, tokensT, tokensS));
                Tensor proj = s.add(Ops.linear(attn, b.projW(), b.projB()));
                DitOps.gatedResidual(h, s.add(mod.slice(1, 2L * d, 3L * d)), proj, h);
                DitOps.adaLayerNorm(h, s.add(mod.slice(1, 3L * d, 4L * d)), s.add(mod.slice(1, 4L * d, 5L * d)), config.layerNormEps(), normed);
                Tensor inner = s.add(Ops.linear(normed, b.fc1W(), b.fc1B()));
                Ops.geluTanh(inner, inner);
                Tensor mlp = s.add(Ops.linear(inner, b.fc2W(), b.fc2B()));
                DitOps.gatedResidual(h, s.add(mod.slice(1, 5L * d, 6L * d)), mlp, h);
            }
            Tensor finalMod = s.add(Ops.linear(act, finalModW, finalModB));
            DitOps.adaLayerNorm(h, s.add(finalMod.slice(1, 0, d)), s.add(finalMod.slice(1, d, 2L * d)), config.layerNormEps(), normed);
            Tensor outTokens = s.add(Ops.linear(normed, finalW, finalB));
            Tensor out = Tensor.empty(device, dtype, x.shape());
            try {
                DitOps.unpatchify(s.add(outTokens.reshape(p.tokenShape())), out, config.patchT(), config.patchH(), config.patchW());
                return out;
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    /** gelu(t_mlp(timestep_embedding(t)) + cond_embed[id]) : [B, D]. */
    private Tensor conditioning(Scope s, float[] t32, int[] conditions) {
        Tensor t = s.add(Tensor.of(device, DType.F32, t32, t32.length));
        Tensor freq = s.add(Tensor.empty(device, dtype, t32.length, config.frequencyDim()));
        DitOps.timestepEmbedding(t, VideoDitConfig.MAX_PERIOD, freq);
        Tensor hidden = s.add(Ops.linear(freq, t0W, t0B));
        Ops.geluTanh(hidden, hidden);
        Tensor c = s.add(Ops.linear(hidden, t2W, t2B));
        Tensor cond = s.add(Ops.embedding(conditions, condEmbed));
        Ops.add(c, cond, c);
        Ops.geluTanh(c, c);
        return c;
    }

    /** q, k, v from the block's qkv rows, attention of the block's kind, heads merged: [B, T·S, D]. */
    private Tensor attention(Scope s, Tensor normed, Block b, int index, int batch, long tokensT, long tokensS) {
        int d = config.hiddenSize();
        long[] heads = {batch, tokensT, tokensS, config.numHeads(), config.headDim()};
        Tensor[] qkv = new Tensor[3];
        for (int j = 0; j < 3; j++)
            qkv[j] = s.add(s.add(Ops.linear(normed, s.add(b.qkvW().slice(0, (long) j * d, (j + 1L) * d)),
                    s.add(b.qkvB().slice(0, (long) j * d, (j + 1L) * d)))).reshape(heads));
        Tensor out = Tensor.empty(device, dtype, heads);
        try {
            float scale = (float) (1 / Math.sqrt(config.headDim()));
            if (config.fullAttention()) VideoAttention.full(qkv[0], qkv[1], qkv[2], out, scale);
            else if (index % 2 == 0) VideoAttention.spatial(qkv[0], qkv[1], qkv[2], out, scale);
            else VideoAttention.temporal(qkv[0], qkv[1], qkv[2], out, false, scale);
            Tensor merged = out.reshape(batch, tokensT * tokensS, d);
            out.close();
            return merged;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Tensors of one forward pass, closed together at its end. */
    private static final class Scope implements AutoCloseable {
        private final List<Tensor> tensors = new ArrayList<>();

        Tensor add(Tensor t) {
            tensors.add(t);
            return t;
        }

        @Override
        public void close() {
            for (int i = tensors.size() - 1; i >= 0; i--) tensors.get(i).close();
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Tensor t : owned) t.close();
    }
}
