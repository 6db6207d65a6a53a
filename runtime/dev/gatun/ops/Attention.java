package dev.gatun.ops;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.EmuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * The LLM attention ops: flash prefill over a packed variable-length batch, rotary embeddings,
 * the paged KV-cache append (RoPE fused), and paged decode with split-KV. Layouts follow
 * FlashAttention's varlen API and vLLM's paged cache:
 * <ul>
 *   <li>q, out: {@code [tokens, qHeads, headDim]}; k, v: {@code [tokens, kvHeads, headDim]}; lse
 *       (natural-log log-sum-exp of the scaled scores): {@code [tokens, qHeads]} fp32;</li>
 *   <li>the cache: {@code [numBlocks, blockSize, kvHeads, headDim]} per layer for keys and values;</li>
 *   <li>GQA/MQA: query head h reads kv head {@code h / (qHeads / kvHeads)};</li>
 *   <li>causal masks are bottom-right aligned (query i of a sequence of lenQ queries over lenK
 *       keys sees key j iff {@code j <= i + lenK - lenQ}), which makes chunked prefill a prefill
 *       whose keys include the earlier chunks; {@code windowLeft >= 0} also hides keys more than
 *       that many positions to the left.</li>
 * </ul>
 * Index arrays (sequence offsets, positions, slots, block tables) come from the host: they are
 * validated here and uploaded with the call.
 */
public final class Attention {
    /** Keys per split of a decode: fixed by position, so a row's result never depends on its batch. */
    public static final int DECODE_SPLIT = 512;
    /** Largest head dimension the kernels are built for. */
    public static final int MAX_HEAD_DIM = 128;

    private Attention() {}

    /**
     * The KV-cache block size (tokens per block) that {@code device}'s paged kernels read best: 16 for
     * the CUDA kernels (cuda, emu), 64 on the cpu device. On the CPU each block of a layer is one
     * contiguous run of memory, and a serving engine's block tables are scattered (sequences grow side
     * by side; freed blocks are reused), which the memory system reads slower than long runs: on a
     * 2-core Zen 5, decode over scattered 16-token blocks (64 KiB of fp32 keys at 8 KV heads x d128)
     * ran 11-19% below the same keys in 64-token blocks (fp32), 26-33% (bf16). Larger blocks share
     * prefixes at a coarser grain and leave more of a sequence's last block empty.
     */
    public static int preferredBlockSize(Device device) {
        return switch (device) {
            case CpuDevice _ -> 64;
            case EmuDevice _, CudaDevice _ -> 16;
        };
    }

    /** Pairs rotated by RoPE: NeoX rotates (i, i + rotaryDim/2), interleaved (GPT-J) rotates (2i, 2i+1). */
    public enum RopeStyle { NEOX, INTERLEAVED }

    /**
     * Rotary embedding of the first {@code rotaryDim} features with base {@code theta} and frequency
     * {@code scaling}; rotaryDim 0 = none.
     */
    public record Rope(int rotaryDim, float theta, RopeStyle style, RopeScaling scaling) {
        public static final Rope NONE = new Rope(0, 10000f, RopeStyle.NEOX);

        public Rope {
            if (rotaryDim < 0 || rotaryDim % 2 != 0 || rotaryDim > 512)
                throw new IllegalArgumentException("rope: rotaryDim must be even and in [0, 512], got " + rotaryDim);
            if (!(theta > 1) || !Float.isFinite(theta)) throw new IllegalArgumentException("rope: theta must be > 1, got " + theta);
            if (style == null) throw new IllegalArgumentException("rope: style is null");
            if (scaling == null) throw new IllegalArgumentException("rope: scaling is null (RopeScaling.NONE for none)");
        }

        public Rope(int rotaryDim, float theta, RopeStyle style) { this(rotaryDim, theta, style, RopeScaling.NONE); }
    }

    /**
     * The frequency scaling of long-context checkpoints, as Hugging Face's {@code rope_scaling}:
     * {@link #NONE}; {@link #linear} divides every frequency by {@code factor} (positions / factor);
     * {@link #llama3} divides the frequencies whose wavelength exceeds
     * {@code originalMaxPositions / lowFreqFactor} by {@code factor}, keeps those shorter than
     * {@code originalMaxPositions / highFreqFactor}, and interpolates smoothly between (Llama 3.1).
     * Applied to each inverse frequency in double before its one rounding to fp32, on every device.
     */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, float originalMaxPositions) {
        public static final RopeScaling NONE = new RopeScaling(1, 1, 1, 0);

        public RopeScaling {
            if (!(factor > 0) || !Float.isFinite(factor)) throw new IllegalArgumentException("rope scaling: factor must be > 0, got " + factor);
            if (!(originalMaxPositions >= 0) || !Float.isFinite(originalMaxPositions))
                throw new IllegalArgumentException("rope scaling: original max positions must be >= 0, got " + originalMaxPositions);
            if (originalMaxPositions > 0 && !(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor && Float.isFinite(highFreqFactor)))
                throw new IllegalArgumentException("rope scaling: need 0 < low_freq_factor < high_freq_factor, got "
                        + lowFreqFactor + " and " + highFreqFactor);
        }

        public static RopeScaling linear(float factor) { return new RopeScaling(factor, 1, 1, 0); }

        public static RopeScaling llama3(float factor, float lowFreqFactor, float highFreqFactor, int originalMaxPositions) {
            if (originalMaxPositions < 1)
                throw new IllegalArgumentException("rope scaling: llama3 needs original_max_position_embeddings >= 1, got " + originalMaxPositions);
            return new RopeScaling(factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
        }

        /** {factor, lowFreqFactor, highFreqFactor, originalMaxPositions}: the kernels' four arguments. */
        public float[] arguments() { return new float[] {factor, lowFreqFactor, highFreqFactor, originalMaxPositions}; }
    }

    /** One layer's paged KV cache: keys and values, each {@code [numBlocks, blockSize, kvHeads, headDim]}. */
    public record PagedKv(Tensor keys, Tensor values) {
        public PagedKv {
            if (keys.rank() != 4 || !Arrays.equals(keys.shape(), values.shape()) || keys.dtype() != values.dtype()
                    || keys.device() != values.device() || !keys.isContiguous() || !values.isContiguous())
                throw new IllegalArgumentException("paged KV cache: keys and values must be contiguous tensors of one dtype and shape "
                        + "[numBlocks, blockSize, kvHeads, headDim] on one device, got " + keys + " and " + values);
            long blockSize = keys.shape(1);
            if (blockSize < 8 || blockSize > 256 || Long.bitCount(blockSize) != 1)
                throw new IllegalArgumentException("paged KV cache: block size must be a power of two in [8, 256], got " + blockSize);
        }

        public int numBlocks() { return (int) keys.shape(0); }

        public int blockSize() { return (int) keys.shape(1); }

        public int kvHeads() { return (int) keys.shape(2); }

        public int headDim() { return (int) keys.shape(3); }
    }

    /** Rotary embedding of {@code x [tokens, heads, headDim]} in place, token t at {@code positions[t]}. */
    public static void rope(Tensor x, int[] positions, Rope rope) {
        String op = "rope";
        int[] dims = heads(op, "x", x, -1);
        requireLength(op, "positions", positions.length, dims[0]);
        requireRotary(op, rope, dims[2]);
        for (int p : positions) if (p < 0) throw new IllegalArgumentException(op + ": positions must be >= 0, got " + p);
        if (dims[0] == 0 || rope.rotaryDim() == 0) return;
        try (Tensor pos = Tensor.of(x.device(), positions, positions.length)) {
            Backends.of(x.device()).rope(new AttentionCalls.Rope(x, pos, dims[0], dims[1], dims[2], rope));
        }
    }

    /**
     * The decode (or prefill) step's KV append: ropes {@code q} in place and writes rope(k) and v of
     * token t into the cache slot {@code slots[t]} (block {@code slot / blockSize}, row
     * {@code slot % blockSize}); a negative slot skips the write (padding).
     */
    public static void appendKv(Tensor q, Tensor k, Tensor v, PagedKv cache, long[] slots, int[] positions, Rope rope) {
        String op = "appendKv";
        int[] qd = heads(op, "q", q, -1);
        int[] kd = heads(op, "k", k, qd[0]);
        requireSame(op, q, k, v, cache.keys());
        if (!Arrays.equals(k.shape(), v.shape())) throw new IllegalArgumentException(op + ": v must match k " + Arrays.toString(k.shape()) + ", got " + v);
        requireGqa(op, qd[1], kd[1], qd[2], kd[2], cache);
        requireLength(op, "slots", slots.length, qd[0]);
        requireLength(op, "positions", positions.length, qd[0]);
        requireRotary(op, rope, qd[2]);
        long capacity = (long) cache.numBlocks() * cache.blockSize();
        boolean[] used = new boolean[(int) Math.min(capacity, Integer.MAX_VALUE)];
        for (int t = 0; t < slots.length; t++) {
            long s = slots[t];
            if (s >= capacity) throw new IllegalArgumentException(op + ": slot " + s + " of token " + t + " is past the cache's " + capacity + " slots");
            if (s >= 0 && used[(int) s]) throw new IllegalArgumentException(op + ": slot " + s + " is written by two tokens");
            if (s >= 0) used[(int) s] = true;
            if (positions[t] < 0) throw new IllegalArgumentException(op + ": positions must be >= 0, got " + positions[t]);
        }
        if (qd[0] == 0) return;
        Device device = q.device();
        try (Tensor slotTensor = Tensor.of(device, slots, slots.length); Tensor pos = Tensor.of(device, positions, positions.length)) {
            Backends.of(device).appendKv(new AttentionCalls.AppendKv(q, k, v, cache.keys(), cache.values(), slotTensor, pos,
                    qd[0], qd[1], kd[1], qd[2], cache.blockSize(), rope));
        }
    }

    /**
     * One query token per sequence against its paged keys and values: {@code q, out [batch, qHeads,
     * headDim]}, {@code lse [batch, qHeads]}; sequence b's keys are positions {@code 0 ..
     * seqLens[b]-1} stored in blocks {@code blockTables[b]}; the query sits at the last position.
     */
    public static void decode(Tensor q, PagedKv cache, int[][] blockTables, int[] seqLens, float scale, int windowLeft,
                              Tensor out, Tensor lse) {
        String op = "decode";
        int[] qd = heads(op, "q", q, -1);
        int batch = qd[0];
        requireSame(op, q, out, cache.keys());
        requireOut(op, q, out, lse);
        requireGqa(op, qd[1], cache.kvHeads(), qd[2], cache.headDim(), cache);
        requireLength(op, "seqLens", seqLens.length, batch);
        requireScale(op, scale);
        for (Tensor t : new Tensor[] {q, cache.keys(), cache.values()})
            if (t.dataAddress() % 16 != 0) throw new IllegalArgumentException(op + ": " + t + " must start 16-byte aligned (vector loads)");
        BlockTables blocks = BlockTables.of(op, blockTables, seqLens, cache);
        if (batch == 0) return;
        int maxSplits = Math.max(1, (blocks.longest() + DECODE_SPLIT - 1) / DECODE_SPLIT);
        Device device = q.device();
        try (Tensor tables = Tensor.of(device, blocks.flat(), batch, blocks.width()); Tensor lens = Tensor.of(device, seqLens, batch)) {
            Backends.of(device).decode(new AttentionCalls.Decode(q, cache.keys(), cache.values(), tables, lens, out, lse,
                    batch, qd[1], cache.kvHeads(), qd[2], cache.blockSize(), blocks.width(), DECODE_SPLIT, maxSplits, scale, windowLeft));
        }
    }

    /**
     * Flash attention over a packed batch: sequence b's queries are rows {@code cuSeqlensQ[b] ..
     * cuSeqlensQ[b+1]-1} of q, its keys rows {@code cuSeqlensK[b] .. cuSeqlensK[b+1]-1} of k and v.
     */
    public static void prefill(Tensor q, Tensor k, Tensor v, int[] cuSeqlensQ, int[] cuSeqlensK, float scale, boolean causal,
                               int windowLeft, Tensor out, Tensor lse) {
        String op = "prefill";
        int[] qd = heads(op, "q", q, -1);
        int[] kd = heads(op, "k", k, -1);
        requireSame(op, q, k, v, out);
        if (!Arrays.equals(k.shape(), v.shape())) throw new IllegalArgumentException(op + ": v must match k " + Arrays.toString(k.shape()) + ", got " + v);
        requireOut(op, q, out, lse);
        if (qd[1] % kd[1] != 0 || qd[2] != kd[2])
            throw new IllegalArgumentException(op + ": q has " + qd[1] + " heads of " + qd[2] + ", k " + kd[1] + " of " + kd[2]
                    + ": query heads must be a multiple of kv heads, head dims equal");
        requireScale(op, scale);
        int batch = cuSeqlensQ.length - 1;
        if (batch < 0 || cuSeqlensK.length != cuSeqlensQ.length)
            throw new IllegalArgumentException(op + ": cuSeqlensQ and cuSeqlensK must both have batch + 1 entries, got "
                    + cuSeqlensQ.length + " and " + cuSeqlensK.length);
        int maxQ = requirePrefixSums(op, "cuSeqlensQ", cuSeqlensQ, qd[0]);
        requirePrefixSums(op, "cuSeqlensK", cuSeqlensK, kd[0]);
        if (batch == 0 || qd[0] == 0) return;
        Device device = q.device();
        try (Tensor cuQ = Tensor.of(device, cuSeqlensQ, batch + 1); Tensor cuK = Tensor.of(device, cuSeqlensK, batch + 1)) {
            Backends.of(device).prefill(new AttentionCalls.Prefill(q, k, v, out, lse, cuQ, cuK, batch, qd[1], kd[1], qd[2],
                    maxQ, scale, causal, windowLeft));
        }
    }

    /**
     * Chunked prefill against the paged cache: sequence b's new queries (rows {@code cuSeqlensQ[b]
     * .. cuSeqlensQ[b+1]-1}, already appended with {@link #appendKv}) attend to its
     * {@code seqLens[b]} cached keys, the last {@code lenQ} of which are their own (causal is
     * bottom-right aligned). Same results, bit for bit on kernels/ devices, as {@link #prefill}
     * over the same keys laid out contiguously.
     */
    public static void prefillPaged(Tensor q, PagedKv cache, int[] cuSeqlensQ, int[][] blockTables, int[] seqLens, float scale,
                                    boolean causal, int windowLeft, Tensor out, Tensor lse) {
        String op = "prefillPaged";
        int[] qd = heads(op, "q", q, -1);
        requireSame(op, q, out, cache.keys());
        requireOut(op, q, out, lse);
        requireGqa(op, qd[1], cache.kvHeads(), qd[2], cache.headDim(), cache);
        requireScale(op, scale);
        int batch = cuSeqlensQ.length - 1;
        if (batch < 0) throw new IllegalArgumentException(op + ": cuSeqlensQ must have batch + 1 entries");
        int maxQ = requirePrefixSums(op, "cuSeqlensQ", cuSeqlensQ, qd[0]);
        requireLength(op, "seqLens", seqLens.length, batch);
        for (int b = 0; b < batch; b++)
            if (seqLens[b] < cuSeqlensQ[b + 1] - cuSeqlensQ[b])
                throw new IllegalArgumentException(op + ": sequence " + b + " has " + (cuSeqlensQ[b + 1] - cuSeqlensQ[b])
                        + " new queries but only " + seqLens[b] + " cached keys: append the chunk's keys first");
        for (Tensor t : new Tensor[] {q, out, cache.keys(), cache.values()})
            if (t.dataAddress() % 16 != 0) throw new IllegalArgumentException(op + ": " + t + " must start 16-byte aligned (vector loads)");
        BlockTables tables = BlockTables.of(op, blockTables, seqLens, cache);
        if (batch == 0 || qd[0] == 0) return;
        Device device = q.device();
        try (Tensor cuQ = Tensor.of(device, cuSeqlensQ, batch + 1); Tensor table = Tensor.of(device, tables.flat(), batch, tables.width());
             Tensor lens = Tensor.of(device, seqLens, batch)) {
            Backends.of(device).prefillPaged(new AttentionCalls.PrefillPaged(q, cache.keys(), cache.values(), out, lse, cuQ, table, lens,
                    batch, qd[1], cache.kvHeads(), qd[2], cache.blockSize(), tables.width(), maxQ, scale, causal, windowLeft));
        }
    }

    /** Block tables flattened to [batch, width], each row checked against its sequence length and the cache. */
    private record BlockTables(int[] flat, int width, int longest) {
        static BlockTables of(String op, int[][] rows, int[] seqLens, PagedKv cache) {
            if (rows.length != seqLens.length)
                throw new IllegalArgumentException(op + ": blockTables has " + rows.length + " rows for " + seqLens.length + " sequences");
            int width = 1, longest = 0;
            for (int[] row : rows) width = Math.max(width, row.length);
            int[] flat = new int[rows.length * width];
            for (int b = 0; b < rows.length; b++) {
                int len = seqLens[b];
                int needed = (len + cache.blockSize() - 1) / cache.blockSize();
                if (len < 0 || needed > rows[b].length)
                    throw new IllegalArgumentException(op + ": sequence " + b + " has " + len + " tokens but " + rows[b].length
                            + " blocks of " + cache.blockSize());
                for (int i = 0; i < rows[b].length; i++) {
                    int block = rows[b][i];
                    if (i < needed && (block < 0 || block >= cache.numBlocks()))
                        throw new IllegalArgumentException(op + ": sequence " + b + " names block " + block + "; the cache has " + cache.numBlocks());
                    flat[b * width + i] = Math.max(0, block);
                }
                longest = Math.max(longest, len);
            }
            return new BlockTables(flat, width, longest);
        }
    }

    // ---- checks, each naming the argument and what was expected ----

    /** [tokens, heads, headDim] of a contiguous floating tensor; {@code tokens} must equal {@code expectTokens} unless -1. */
    private static int[] heads(String op, String name, Tensor t, int expectTokens) {
        if (t.rank() != 3 || !t.isContiguous() || !t.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous fp32/fp16/bf16 tensor [tokens, heads, headDim], got " + t);
        int tokens = Math.toIntExact(t.shape(0)), heads = Math.toIntExact(t.shape(1)), dim = Math.toIntExact(t.shape(2));
        if (heads < 1 || dim < 8 || dim % 8 != 0 || dim > MAX_HEAD_DIM)
            throw new IllegalArgumentException(op + ": " + name + " needs >= 1 head and a head dim that is a multiple of 8 up to "
                    + MAX_HEAD_DIM + ", got " + t);
        if (expectTokens >= 0 && tokens != expectTokens)
            throw new IllegalArgumentException(op + ": " + name + " has " + tokens + " tokens, expected " + expectTokens);
        return new int[] {tokens, heads, dim};
    }

    private static void requireSame(String op, Tensor first, Tensor... others) {
        for (Tensor t : others) {
            if (t.device() != first.device())
                throw new IllegalArgumentException(op + ": all tensors must be on one device; " + first + " and " + t);
            if (t.dtype() != first.dtype()) throw new IllegalArgumentException(op + ": all tensors must have one dtype; " + first + " and " + t);
        }
    }

    private static void requireOut(String op, Tensor q, Tensor out, Tensor lse) {
        if (!Arrays.equals(out.shape(), q.shape()) || !out.isContiguous())
            throw new IllegalArgumentException(op + ": out must be a contiguous tensor shaped like q " + Arrays.toString(q.shape()) + ", got " + out);
        long[] lseShape = {q.shape(0), q.shape(1)};
        if (lse.dtype() != DType.F32 || !Arrays.equals(lse.shape(), lseShape) || !lse.isContiguous() || lse.device() != q.device())
            throw new IllegalArgumentException(op + ": lse must be a contiguous fp32 tensor " + Arrays.toString(lseShape) + " on "
                    + q.device() + ", got " + lse);
    }

    private static void requireGqa(String op, int qHeads, int kvHeads, int qDim, int kvDim, PagedKv cache) {
        if (kvHeads != cache.kvHeads() || kvDim != cache.headDim() || qDim != kvDim || qHeads % kvHeads != 0)
            throw new IllegalArgumentException(op + ": " + qHeads + " query heads of " + qDim + " over " + kvHeads + " kv heads of " + kvDim
                    + " do not fit the cache's " + cache.kvHeads() + " kv heads of " + cache.headDim()
                    + " (query heads must be a multiple of kv heads)");
    }

    private static void requireRotary(String op, Rope rope, int headDim) {
        if (rope.rotaryDim() > headDim)
            throw new IllegalArgumentException(op + ": rotaryDim " + rope.rotaryDim() + " exceeds the head dim " + headDim);
    }

    private static void requireLength(String op, String name, int length, int expected) {
        if (length != expected) throw new IllegalArgumentException(op + ": " + name + " has " + length + " entries, expected " + expected);
    }

    private static void requireScale(String op, float scale) {
        if (!(scale > 0) || !Float.isFinite(scale)) throw new IllegalArgumentException(op + ": scale must be positive and finite, got " + scale);
    }

    /** Checks 0 = s[0] <= s[1] <= ... = total and returns the longest sequence. */
    private static int requirePrefixSums(String op, String name, int[] sums, int total) {
        if (sums[0] != 0 || sums[sums.length - 1] != total)
            throw new IllegalArgumentException(op + ": " + name + " must start at 0 and end at " + total + ", got " + Arrays.toString(sums));
        int longest = 0;
        for (int i = 1; i < sums.length; i++) {
            if (sums[i] < sums[i - 1]) throw new IllegalArgumentException(op + ": " + name + " must not decrease, got " + Arrays.toString(sums));
            longest = Math.max(longest, sums[i] - sums[i - 1]);
        }
        return longest;
    }
}
