package dev.gatun.llm;

import dev.gatun.device.Device;
import dev.gatun.io.Safetensors;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A Llama-family decoder (RMSNorm, RoPE NeoX, GQA attention over a paged KV cache, SwiGLU MLP, tied
 * or untied embeddings) assembled from Gatun ops and loaded from a Hugging Face folder
 * ({@code config.json} + safetensors, single or sharded). Weights live on one device in one dtype;
 * gate and up projections are fused into one {@code [2I, H]} weight so that {@link Ops#siluMul}
 * applies to a single linear's output.
 *
 * <p>{@link #forward} runs one step over a packed batch ({@link Batch}): each sequence contributes
 * its new tokens (a prefill chunk, a whole prompt, or one decode token), their keys and values
 * are appended to the cache, and the result is the fp32 logits of each sequence's last new token
 * (or of its last few, for speculative verification).
 * Not thread-safe: one engine thread drives a model.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig config;
    private final Device device;
    private final DType dtype;
    private final Tensor embed, finalNorm, lmHead;
    private final List<Layer> layers;
    private final Attention.Rope rope;
    private final float scale;
    private boolean closed;

    private record Layer(Tensor inputNorm, Tensor q, Tensor k, Tensor v, Tensor o, Tensor postNorm, Tensor gateUp, Tensor down) {
        void close() {
            for (Tensor t : new Tensor[] {inputNorm, q, k, v, o, postNorm, gateUp, down}) if (t != null) t.close();
        }
    }

    private LlamaModel(LlamaConfig config, Device device, DType dtype, Tensor embed, Tensor finalNorm, Tensor lmHead, List<Layer> layers) {
        this.config = config;
        this.device = device;
        this.dtype = dtype;
        this.embed = embed;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
        this.rope = config.rope();
        this.scale = (float) (1 / Math.sqrt(config.headDim()));
    }

    /** Loads the model in {@code dir} onto {@code device} in the config's {@code torch_dtype}. */
    public static LlamaModel load(Path dir, Device device) {
        LlamaConfig config = LlamaConfig.load(dir);
        return load(dir, config, device, config.torchDtype());
    }

    /** Loads the model in {@code dir} onto {@code device}, converting the weights to {@code dtype}. */
    public static LlamaModel load(Path dir, Device device, DType dtype) {
        return load(dir, LlamaConfig.load(dir), device, dtype);
    }

    private static LlamaModel load(Path dir, LlamaConfig c, Device device, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be fp32, fp16 or bf16, got " + dtype);
        List<Tensor> loaded = new ArrayList<>();
        try (Safetensors st = Safetensors.openModel(dir)) {
            Loader l = new Loader(st, device, dtype, loaded);
            int h = c.hiddenSize(), inter = c.intermediateSize();
            Tensor embed = l.load("model.embed_tokens.weight", c.vocabSize(), h);
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.numLayers(); i++) {
                String p = "model.layers." + i + ".";
                Tensor gateUp = l.empty(2L * inter, h);
                try (Tensor gate = gateUp.slice(0, 0, inter); Tensor up = gateUp.slice(0, inter, 2L * inter)) {
                    l.into(p + "mlp.gate_proj.weight", gate);
                    l.into(p + "mlp.up_proj.weight", up);
                }
                layers.add(new Layer(l.load(p + "input_layernorm.weight", h),
                        l.load(p + "self_attn.q_proj.weight", c.qDim(), h),
                        l.load(p + "self_attn.k_proj.weight", c.kvDim(), h),
                        l.load(p + "self_attn.v_proj.weight", c.kvDim(), h),
                        l.load(p + "self_attn.o_proj.weight", h, c.qDim()),
                        l.load(p + "post_attention_layernorm.weight", h),
                        gateUp,
                        l.load(p + "mlp.down_proj.weight", h, inter)));
            }
            Tensor norm = l.load("model.norm.weight", h);
            Tensor lmHead;
            if (c.tieWordEmbeddings()) lmHead = embed;
            else if (!st.contains("lm_head.weight"))
                throw new IllegalArgumentException(dir + ": config.json has tie_word_embeddings false but the checkpoint has no lm_head.weight");
            else lmHead = l.load("lm_head.weight", c.vocabSize(), h);
            device.synchronize();
            return new LlamaModel(c, device, dtype, embed, norm, lmHead, layers);
        } catch (RuntimeException e) {
            for (Tensor t : loaded) t.close();
            throw e;
        }
    }

    /** Loads named weights, checking each shape against the config. */
    private record Loader(Safetensors st, Device device, DType dtype, List<Tensor> loaded) {
        Tensor empty(long... shape) {
            Tensor t = Tensor.empty(device, dtype, shape);
            loaded.add(t);
            return t;
        }

        Tensor load(String name, long... shape) {
            Tensor t = empty(shape);
            into(name, t);
            return t;
        }

        void into(String name, Tensor target) {
            Safetensors.Entry e = st.entry(name);
            if (!Arrays.equals(e.shape(), target.shape()))
                throw new IllegalArgumentException("weight '" + name + "' in " + e.file() + " has shape " + Arrays.toString(e.shape())
                        + ", but config.json implies " + Arrays.toString(target.shape()));
            st.copyInto(name, target);
        }
    }

    public LlamaConfig config() { return config; }

    public Device device() { return device; }

    public DType dtype() { return dtype; }

    // ---- KV cache ----

    /** The paged KV cache of all layers: per layer keys and values {@code [numBlocks, blockSize, kvHeads, headDim]}. */
    public static final class KvCache implements AutoCloseable {
        private final List<Attention.PagedKv> layers;

        private KvCache(List<Attention.PagedKv> layers) { this.layers = layers; }

        public Attention.PagedKv layer(int i) { return layers.get(i); }

        public int numLayers() { return layers.size(); }

        public int numBlocks() { return layers.get(0).numBlocks(); }

        public int blockSize() { return layers.get(0).blockSize(); }

        @Override
        public void close() {
            for (Attention.PagedKv kv : layers) {
                kv.keys().close();
                kv.values().close();
            }
        }
    }

    /** Allocates a KV cache of {@code numBlocks} blocks of {@code blockSize} slots per layer, in the model's dtype. */
    public KvCache newCache(int numBlocks, int blockSize) {
        requireOpen();
        if (numBlocks < 1) throw new IllegalArgumentException("the KV cache needs at least one block, got " + numBlocks);
        List<Attention.PagedKv> kv = new ArrayList<>();
        try {
            for (int i = 0; i < config.numLayers(); i++) {
                Tensor k = Tensor.empty(device, dtype, numBlocks, blockSize, config.numKvHeads(), config.headDim());
                Tensor v;
                try {
                    v = Tensor.empty(device, dtype, numBlocks, blockSize, config.numKvHeads(), config.headDim());
                } catch (RuntimeException e) {
                    k.close();
                    throw e;
                }
                try {
                    kv.add(new Attention.PagedKv(k, v));
                } catch (RuntimeException e) {
                    k.close();
                    v.close();
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            new KvCache(kv).close();
            throw e;
        }
        return new KvCache(kv);
    }

    /** Bytes of KV cache per block (all layers, keys and values). */
    public long bytesPerBlock(int blockSize) {
        return 2L * config.numLayers() * blockSize * config.numKvHeads() * config.headDim() * dtype.byteSize();
    }

    // ---- forward ----

    /**
     * One step's packed batch. Sequence b contributes {@code queryLens[b]} new tokens (consecutive
     * in {@code tokens}, {@code positions}, {@code slots}); after the step its cache holds
     * {@code seqLens[b]} tokens in the blocks {@code blockTables[b]}, the new ones at positions
     * {@code seqLens[b] - queryLens[b] .. seqLens[b] - 1}, written to {@code slots}
     * (block × blockSize + offset).
     */
    public record Batch(int[] tokens, int[] positions, long[] slots, int[] queryLens, int[] seqLens, int[][] blockTables) {
        public int size() { return queryLens.length; }

        /** A batch holding one sequence: {@code tokens} at positions {@code start ..}, slots from its block table. */
        public static Batch single(int[] tokens, int start, int[] blockTable, int blockSize) {
            int[] positions = new int[tokens.length];
            long[] slots = new long[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                positions[i] = start + i;
                int block = (start + i) / blockSize;
                if (block >= blockTable.length)
                    throw new IllegalArgumentException("position " + (start + i) + " needs block " + block + " but the block table has " + blockTable.length);
                slots[i] = (long) blockTable[block] * blockSize + (start + i) % blockSize;
            }
            return new Batch(tokens, positions, slots, new int[] {tokens.length}, new int[] {start + tokens.length}, new int[][] {blockTable});
        }
    }

    /** Runs one step and returns the fp32 logits {@code [batch, vocab]} of each sequence's last new token. */
    public Tensor forward(Batch batch, KvCache cache) {
        int[] lastOnly = new int[batch.size()];
        Arrays.fill(lastOnly, 1);
        return forward(batch, cache, lastOnly);
    }

    /**
     * Runs one step and returns the fp32 logits of the last {@code logitRows[b]} new tokens of each
     * sequence b, in order: {@code [sum(logitRows), vocab]}. Speculative decoding verifies k
     * proposed tokens with the k + 1 rows of one sequence.
     */
    public Tensor forward(Batch batch, KvCache cache, int[] logitRows) {
        requireOpen();
        int[] cuSeqlensQ = validate(batch, cache);
        int tokens = batch.tokens().length, nb = batch.size();
        if (logitRows.length != nb)
            throw new IllegalArgumentException("forward: " + nb + " sequences need as many logit row counts, got " + logitRows.length);
        int rows = 0;
        for (int b = 0; b < nb; b++) {
            int q = batch.queryLens()[b];
            if (logitRows[b] < 1 || logitRows[b] > q)
                throw new IllegalArgumentException("forward: sequence " + b + " asks for " + logitRows[b] + " logit rows; it has " + q + " new tokens");
            rows += logitRows[b];
        }
        int h = config.hiddenSize();
        boolean decodeOnly = tokens == nb;
        Tensor x = Ops.embedding(batch.tokens(), embed);
        try {
            for (int i = 0; i < layers.size(); i++) {
                Layer layer = layers.get(i);
                Attention.PagedKv kv = cache.layer(i);
                try (Tensor attnOut = Tensor.empty(device, dtype, tokens, config.numHeads(), config.headDim())) {
                    try (Tensor normed = Ops.rmsNorm(x, layer.inputNorm(), config.rmsNormEps());
                         Tensor qFlat = Ops.linear(normed, layer.q(), null);
                         Tensor kFlat = Ops.linear(normed, layer.k(), null);
                         Tensor vFlat = Ops.linear(normed, layer.v(), null);
                         Tensor q = qFlat.reshape(tokens, config.numHeads(), config.headDim());
                         Tensor k = kFlat.reshape(tokens, config.numKvHeads(), config.headDim());
                         Tensor v = vFlat.reshape(tokens, config.numKvHeads(), config.headDim());
                         Tensor lse = Tensor.empty(device, DType.F32, tokens, config.numHeads())) {
                        Attention.appendKv(q, k, v, kv, batch.slots(), batch.positions(), rope);
                        if (decodeOnly) Attention.decode(q, kv, batch.blockTables(), batch.seqLens(), scale, -1, attnOut, lse);
                        else Attention.prefillPaged(q, kv, cuSeqlensQ, batch.blockTables(), batch.seqLens(), scale, true, -1, attnOut, lse);
                    }
                    try (Tensor attnFlat = attnOut.reshape(tokens, config.qDim()); Tensor o = Ops.linear(attnFlat, layer.o(), null)) {
                        Ops.add(x, o, x);
                    }
                }
                try (Tensor normed = Ops.rmsNorm(x, layer.postNorm(), config.rmsNormEps());
                     Tensor gateUp = Ops.linear(normed, layer.gateUp(), null);
                     Tensor act = Ops.siluMul(gateUp);
                     Tensor down = Ops.linear(act, layer.down(), null)) {
                    Ops.add(x, down, x);
                }
            }
            // only the asked-for trailing tokens need logits: gather those rows (no gather op: one copy per sequence)
            try (Tensor last = Tensor.empty(device, dtype, rows, h)) {
                for (int b = 0, dst = 0; b < nb; dst += logitRows[b], b++) {
                    int end = cuSeqlensQ[b + 1];
                    try (Tensor from = x.slice(0, end - logitRows[b], end); Tensor to = last.slice(0, dst, dst + logitRows[b])) {
                        to.copyFrom(from);
                    }
                }
                try (Tensor normed = Ops.rmsNorm(last, finalNorm, config.rmsNormEps())) {
                    Tensor logits = Ops.linear(normed, lmHead, null);
                    if (dtype == DType.F32) return logits;
                    // no cast op: convert through the host (only [rows, vocab] values)
                    try (logits) {
                        return Tensor.of(device, DType.F32, logits.toFloatArray(), rows, config.vocabSize());
                    }
                }
            }
        } finally {
            x.close();
        }
    }

    /** Checks the batch against the config and the cache and returns cuSeqlensQ. */
    private int[] validate(Batch b, KvCache cache) {
        if (cache.numLayers() != config.numLayers())
            throw new IllegalArgumentException("forward: the KV cache has " + cache.numLayers() + " layers, the model " + config.numLayers());
        int n = b.queryLens().length;
        if (n == 0) throw new IllegalArgumentException("forward: the batch has no sequences");
        if (b.seqLens().length != n || b.blockTables().length != n)
            throw new IllegalArgumentException("forward: " + n + " sequences need as many seqLens and block tables, got "
                    + b.seqLens().length + " and " + b.blockTables().length);
        int tokens = b.tokens().length;
        if (b.positions().length != tokens || b.slots().length != tokens)
            throw new IllegalArgumentException("forward: " + tokens + " tokens need as many positions and slots, got "
                    + b.positions().length + " and " + b.slots().length);
        int[] cu = new int[n + 1];
        for (int s = 0; s < n; s++) {
            int q = b.queryLens()[s];
            if (q < 1) throw new IllegalArgumentException("forward: sequence " + s + " has " + q + " new tokens; every sequence needs at least one (empty prompt?)");
            if (b.seqLens()[s] < q)
                throw new IllegalArgumentException("forward: sequence " + s + " has " + q + " new tokens but a total length of " + b.seqLens()[s]);
            if (b.seqLens()[s] > config.maxPositionEmbeddings())
                throw new IllegalArgumentException("forward: sequence " + s + " reaches length " + b.seqLens()[s] + ", beyond the model's "
                        + config.maxPositionEmbeddings() + " positions (max_position_embeddings)");
            cu[s + 1] = Math.addExact(cu[s], q);
        }
        if (cu[n] != tokens) throw new IllegalArgumentException("forward: queryLens sum to " + cu[n] + " but there are " + tokens + " tokens");
        for (int s = 0; s < n; s++)
            for (int t = cu[s]; t < cu[s + 1]; t++) {
                int expected = b.seqLens()[s] - (cu[s + 1] - t);
                if (b.positions()[t] != expected)
                    throw new IllegalArgumentException("forward: token " + t + " of sequence " + s + " is at position " + b.positions()[t]
                            + ", expected " + expected + " (new tokens are the last of the sequence)");
                int[] table = b.blockTables()[s];
                int block = expected / cache.blockSize();
                long slot = block < table.length ? (long) table[block] * cache.blockSize() + expected % cache.blockSize() : -1;
                if (b.slots()[t] != slot)
                    throw new IllegalArgumentException("forward: token " + t + " of sequence " + s + " (position " + expected + ") has slot "
                            + b.slots()[t] + ", but its block table " + Arrays.toString(table) + " puts it in slot " + slot);
            }
        for (int t = 0; t < tokens; t++) {
            int id = b.tokens()[t];
            if (id < 0 || id >= config.vocabSize())
                throw new IllegalArgumentException("forward: token id " + id + " (token " + t + ") is outside the vocabulary [0, " + config.vocabSize() + ")");
            if (b.slots()[t] < 0)
                throw new IllegalArgumentException("forward: token " + t + " has no KV slot (" + b.slots()[t] + ")");
        }
        return cu;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("model used after close()");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Layer l : layers) l.close();
        embed.close();
        finalNorm.close();
        if (lmHead != embed) lmHead.close();
    }
}
