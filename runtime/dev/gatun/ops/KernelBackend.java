package dev.gatun.ops;

import dev.gatun.bindings.blas.CuBlas;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.Dim3;
import dev.gatun.device.Kernel;
import dev.gatun.device.KernelLauncher;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * The ops on devices that run kernels/ (cuda and emu): picks each kernel's launch configuration
 * and launches it through the one launch path both share.
 */
record KernelBackend(Device device, KernelLauncher launcher) implements Backend {
    /** Grid-stride kernels accept any grid; this bounds it where more blocks buy nothing. */
    private static final long MAX_GRID = 1 << 16;
    /** Query heads of one GQA group that a decode CTA handles (kernels/attention_decode.cuh). */
    private static final int DECODE_HEADS_PER_CTA = 8;
    /** Below this many 128×128 output tiles the GEMM uses 64×64 tiles (about the SM count of a large GPU). */
    private static final long GEMM_BIG_TILES_MIN = 108;
    /** Query rows of one prefill CTA (kernels/attention_prefill.cuh). */
    private static final int PREFILL_ROWS = 64;
    /** Video sequences up to this many tokens (one key tile) are packed several to a CTA. */
    private static final int VIDEO_PACKED_LEN = 32;

    @Override
    public void softmax(Rows x, Rows y) {
        launchRows("softmax", "gatun_softmax_", x, x.tensor(), y.tensor(), x.rows(), x.cols(), x.rowStride(), y.rowStride());
    }

    @Override
    public void rmsNorm(Rows x, Tensor weight, float eps, Rows y) {
        launchRows("rms_norm", "gatun_rms_norm_", x, x.tensor(), weight, y.tensor(), x.rows(), x.cols(),
                x.rowStride(), y.rowStride(), eps);
    }

    @Override
    public void rowSum(Rows x, Tensor out) {
        launchRows("reduce", "gatun_row_sum_", x, x.tensor(), out, x.rows(), x.cols(), x.rowStride());
    }

    @Override
    public void prefill(AttentionCalls.Prefill c) {
        launchShared("attention_prefill", "gatun_attention_prefill_" + suffix(c.q().dtype()) + headDimSuffix(c.headDim()),
                new Dim3((c.maxSeqlenQ() + PREFILL_ROWS - 1) / PREFILL_ROWS, c.qHeads(), c.batch()), 128, prefillSharedBytes(c.headDim()),
                c.q(), c.k(), c.v(), c.out(), c.lse(), c.cuSeqlensQ(), c.cuSeqlensK(), c.batch(), c.qHeads(), c.kvHeads(),
                c.headDim(), c.maxSeqlenQ(), c.scale(), c.causal() ? 1 : 0, c.windowLeft());
    }

    @Override
    public void prefillPaged(AttentionCalls.PrefillPaged c) {
        launchShared("attention_prefill_paged", "gatun_attention_prefill_paged_" + suffix(c.q().dtype()) + headDimSuffix(c.headDim()),
                new Dim3((c.maxSeqlenQ() + PREFILL_ROWS - 1) / PREFILL_ROWS, c.qHeads(), c.batch()), 128, prefillSharedBytes(c.headDim()),
                c.q(), c.kCache(), c.vCache(), c.out(), c.lse(), c.cuSeqlensQ(), c.blockTables(), c.seqLens(), c.batch(), c.qHeads(),
                c.kvHeads(), c.headDim(), c.blockSize(), c.maxBlocksPerSeq(), c.maxSeqlenQ(), c.scale(), c.causal() ? 1 : 0, c.windowLeft());
    }

    /** One CTA of exactly 1024 threads per row (kernels/sampling.cuh defines its reductions over 1024 lanes). */
    @Override
    public void sample(AttentionCalls.Sample c) {
        launch("sampling", "gatun_sample_f32", Dim3.of((int) Math.min(c.batch(), MAX_GRID)), 1024, c.logits(), c.tokens(),
                c.temperature(), c.topK(), c.topP(), c.seeds(), c.steps(), c.batch(), c.vocab());
    }

    @Override
    public void philoxUniform(Tensor out, long seed, long step) {
        if (out.numel() == 0) return;
        launch("sampling", "gatun_philox_uniform", Dim3.of((int) Math.min((out.numel() + 255) / 256, MAX_GRID)), 256,
                out, seed, step, out.numel());
    }

    @Override
    public void decode(AttentionCalls.Decode c) {
        String dt = suffix(c.q().dtype());
        int group = c.qHeads() / c.kvHeads();
        int ctas = c.batch() * c.kvHeads() * ((group + DECODE_HEADS_PER_CTA - 1) / DECODE_HEADS_PER_CTA);
        try (Tensor partialOut = Tensor.empty(device, DType.F32, c.batch(), c.qHeads(), c.maxSplits(), c.headDim());
             Tensor partialLse = Tensor.empty(device, DType.F32, c.batch(), c.qHeads(), c.maxSplits())) {
            launch("attention_decode", "gatun_attention_decode_" + dt + headDimSuffix(c.headDim()), new Dim3(ctas, c.maxSplits(), 1), 128,
                    c.q(), c.kCache(), c.vCache(), c.blockTables(), c.seqLens(), partialOut, partialLse, c.batch(), c.qHeads(),
                    c.kvHeads(), c.headDim(), c.blockSize(), c.maxBlocksPerSeq(), c.splitSize(), c.maxSplits(), c.scale(), c.windowLeft());
            launch("attention_decode", "gatun_attention_merge_" + dt, Dim3.of(c.batch() * c.qHeads()), 128,
                    partialOut, partialLse, c.out(), c.lse(), c.seqLens(), c.batch(), c.qHeads(), c.headDim(), c.splitSize(), c.maxSplits());
        }
    }

    @Override
    public void rope(AttentionCalls.Rope c) {
        Attention.RopeScaling sc = c.rope().scaling();
        launch("rope", "gatun_rope_" + suffix(c.x().dtype()), Dim3.of(c.tokens()), 128, c.x(), c.positions(), c.tokens(), c.heads(),
                c.headDim(), c.rope().rotaryDim(), c.rope().theta(), sc.factor(), sc.lowFreqFactor(), sc.highFreqFactor(),
                sc.originalMaxPositions(), c.rope().style().ordinal());
    }

    @Override
    public void appendKv(AttentionCalls.AppendKv c) {
        Attention.RopeScaling sc = c.rope().scaling();
        launch("kv_cache", "gatun_kv_append_rope_" + suffix(c.q().dtype()), Dim3.of(c.tokens()), 128, c.q(), c.k(), c.v(),
                c.kCache(), c.vCache(), c.slots(), c.positions(), c.tokens(), c.qHeads(), c.kvHeads(), c.headDim(), c.blockSize(),
                c.rope().rotaryDim(), c.rope().theta(), sc.factor(), sc.lowFreqFactor(), sc.highFreqFactor(), sc.originalMaxPositions(),
                c.rope().style().ordinal());
    }

    /**
     * cuBLAS on a cuda device that has it (bias-free projections; the kernels fuse the bias), else
     * kernels/gemm.cuh: 128×128 tiles (tensor cores for fp16/bf16), or 64×64 tiles when the big
     * ones would be too few to fill a GPU (decode-sized m).
     */
    @Override
    public void linear(Rows x, Tensor w, Tensor bias, Rows y) {
        long m = x.rows(), n = y.cols(), k = x.cols();
        if (m == 0 || n == 0) return;
        if (bias == null && device instanceof CudaDevice cuda && cuda.cublas().isPresent()) {
            cuda.cublas().get().linear(x.tensor().dataAddress(), x.rowStride(), w.dataAddress(), y.tensor().dataAddress(),
                    y.rowStride(), (int) m, (int) n, (int) k, blasType(x.dtype()));
            return;
        }
        boolean small = ((m + 127) / 128) * ((n + 127) / 128) < GEMM_BIG_TILES_MIN;
        int tile = small ? 64 : 128;
        boolean f32 = x.dtype() == DType.F32;
        int threads = f32 || !small ? 256 : 128;
        int shared = f32 ? (small ? 8704 : 16896) : (small ? 10240 : 20480);
        launchShared("gemm", "gatun_gemm_" + suffix(x.dtype()) + (small ? "_small" : ""),
                new Dim3((int) ((n + tile - 1) / tile), (int) ((m + tile - 1) / tile), 1), threads, shared,
                x.tensor(), w, bias == null ? 0L : bias, y.tensor(), (int) m, (int) n, (int) k,
                (int) x.rowStride(), (int) w.shape(1), (int) y.rowStride());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        launchElementwise("gatun_add_", a.dtype(), a.numel(), a, b, y, a.numel());
    }

    @Override
    public void siluMul(Tensor x, Tensor y, long rows, long cols) {
        launchElementwise("gatun_silu_mul_", x.dtype(), rows * cols, x, y, rows, cols);
    }

    @Override
    public void geluTanh(Tensor x, Tensor y) {
        launchElementwise("gatun_gelu_tanh_", x.dtype(), x.numel(), x, y, x.numel());
    }

    @Override
    public void embedding(Tensor ids, Tensor table, Tensor y) {
        launchElementwise("gatun_embedding_", table.dtype(), y.numel(), ids, table, y, ids.numel(), table.shape(1));
    }

    /** kernels/diffusion.cuh: grid-stride over n·len elements, 256 threads, like the elementwise family. */
    @Override
    public void diffusionStep(DiffusionOps.StepCall c) {
        long elements = c.n() * c.len();
        if (elements == 0) return;
        launch("diffusion", "gatun_diffusion_step_" + suffix(c.x().dtype()), Dim3.of((int) Math.min((elements + 255) / 256, MAX_GRID)), 256,
                c.x(), c.model(), c.prev() == null ? 0L : c.prev(), c.out(), c.x0Out() == null ? 0L : c.x0Out(), c.params(),
                c.factor() == null ? 0L : c.factor(), c.seeds(), c.steps(), c.n(), c.len(), c.cfg() ? 1 : 0);
    }

    /** kernels/diffusion.cuh: one 256-thread block per sample (grid-stride beyond MAX_GRID); fixed reduction order. */
    @Override
    public void cfgRescale(Tensor model, Tensor params, Tensor factor, long n, long len) {
        if (n == 0) return;
        launch("diffusion", "gatun_cfg_rescale_" + suffix(model.dtype()), Dim3.of((int) Math.min(n, MAX_GRID)), 256,
                model, params, factor, n, len);
    }

    /** kernels/dit.cuh: a row kernel, sized like the other row-wise ops (fixed per cols, so batch-invariant). */
    @Override
    public void adaLayerNorm(DitOps.Modulated c, Tensor shift, Tensor scale, float eps) {
        launchRows("dit", "gatun_ada_layer_norm_", new Rows(c.x(), c.rows(), c.cols(), c.cols()), c.x(), shift, scale, c.out(),
                c.rows(), c.cols(), c.rowsPerBatch(), c.modStride(), eps);
    }

    @Override
    public void gatedResidual(DitOps.Modulated c, Tensor gate, Tensor y) {
        long n = c.rows() * c.cols();
        launchGridStride("dit", "gatun_gated_residual_" + suffix(c.x().dtype()), n, c.x(), gate, y, c.out(), n, c.cols(),
                c.rowsPerBatch() * c.cols(), c.modStride());
    }

    /** Element moves without arithmetic: one kernel per element size. */
    @Override
    public void patchify(Tensor src, Tensor dst, DitOps.Patches p, boolean toTokens) {
        long n = src.numel();
        launchGridStride("dit", "gatun_" + (toTokens ? "" : "un") + "patchify_b" + 8 * src.dtype().byteSize(), n, src, dst, n,
                p.channels(), p.frames(), p.height(), p.width(), (long) p.pt(), (long) p.ph(), (long) p.pw());
    }

    @Override
    public void timestepEmbedding(Tensor t, Tensor emb, float maxPeriod) {
        launchGridStride("dit", "gatun_timestep_embedding_" + suffix(emb.dtype()), emb.numel(), t, emb, emb.shape(0), emb.shape(1), maxPeriod);
    }
    /**
     * kernels/video_attention.cuh: the prefill CTA (64 query rows, 32-key tiles); sequences of at
     * most 32 tokens are packed 64 / len to a CTA, longer ones take ceil(len / 64) CTAs each.
     */
    @Override
    public void videoAttention(VideoAttention.Call c) {
        int len = c.textLen() + c.seqLen();
        int perCta = len <= VIDEO_PACKED_LEN ? PREFILL_ROWS / len : 1;
        int mtiles = len <= VIDEO_PACKED_LEN ? 1 : (len + PREFILL_ROWS - 1) / PREFILL_ROWS;
        long ctas = ((long) c.numSeq() + perCta - 1) / perCta * mtiles;
        launchShared("video_attention", "gatun_video_attention_" + suffix(c.q().dtype()) + headDimSuffix(c.headDim()),
                new Dim3(Math.toIntExact(ctas), c.qHeads(), 1), 128, prefillSharedBytes(c.headDim()),
                c.q(), c.k(), c.v(), c.out(), orNull(c.textQ()), orNull(c.textK()), orNull(c.textV()), orNull(c.textOut()),
                c.numSeq(), c.textLen(), c.seqLen(), c.per(), c.outer(), c.inner(), c.step(), c.qHeads(), c.kvHeads(),
                c.headDim(), perCta, mtiles, c.scale(), c.causal() ? 1 : 0);
    }

    /** kernels/peak.cuh: the fp32 FMA probe, 256 threads per block. */
    void fmaPeak(Tensor out, int blocks, float mul, float add, int iterations) {
        launch("peak", "gatun_fma_peak_f32", Dim3.of(blocks), 256, out, mul, add, iterations);
    }

    /** kernels/peak.cuh: the tensor-core probe, 4 warps per block. */
    void mmaPeak(DType dtype, Tensor out, int blocks, float value, int iterations) {
        launch("peak", "gatun_mma_peak_" + suffix(dtype), Dim3.of(blocks), 128, out, value, iterations);
    }

    /** A tensor argument, or a null pointer. */
    private static Object orNull(Tensor t) { return t == null ? (Object) 0L : t; }

    /** Grid-stride elementwise kernels: 256 threads, one block per 256 elements up to MAX_GRID blocks. */
    private void launchElementwise(String prefix, DType dtype, long elements, Object... args) {
        launchGridStride("elementwise", prefix + suffix(dtype), elements, args);
    }

    /** 256 threads, one block per 256 elements up to MAX_GRID blocks (the kernel strides over the rest). */
    private void launchGridStride(String module, String name, long elements, Object... args) {
        if (elements == 0) return;
        launch(module, name, Dim3.of((int) Math.min((elements + 255) / 256, MAX_GRID)), 256, args);
    }

    /** A fixed-shape launch without dynamic shared memory. */
    private void launch(String module, String name, Dim3 grid, int threads, Object... args) {
        launchShared(module, name, grid, threads, 0, args);
    }

    /** A fixed-shape launch: {@code threads} per block and shared memory within the family's declared bounds. */
    private void launchShared(String module, String name, Dim3 grid, int threads, int sharedBytes, Object... args) {
        LaunchBounds bounds = LaunchBounds.require(name);
        if (threads > bounds.maxThreads() || sharedBytes > bounds.maxDynamicSharedBytes())
            throw new IllegalStateException(name + " launched with " + threads + " threads and " + sharedBytes
                    + " bytes of shared memory, above its declared bounds " + bounds);
        launcher.launch(new Kernel(module, name), grid, Dim3.of(threads), sharedBytes, device.defaultStream(), args);
    }

    /** kernels/attention_prefill.cuh: 64 query rows per CTA, K/V tiles of 32 keys (the fp32 body's size, which the 16-bit one fits). */
    private static int prefillSharedBytes(int headDim) {
        int maxD = headDim <= 64 ? 64 : 128;
        return 4 * ((PREFILL_ROWS + 32) * (maxD + 4) + 32 * maxD + PREFILL_ROWS * 36);
    }

    /** The kernels are built for head dims up to 64 and up to 128. */
    private static String headDimSuffix(int headDim) { return headDim <= 64 ? "_d64" : "_d128"; }

    /**
     * One block per row (grid-stride beyond MAX_GRID). Threads: the power of two in [32, 1024] that
     * gives each at most 8 elements, so rows up to 8192 stay in registers and are read once. It
     * depends on cols alone, which keeps each row's reduction order, and so its result, fixed.
     */
    private void launchRows(String module, String prefix, Rows x, Object... args) {
        if (x.rows() == 0) return;
        String name = prefix + suffix(x.dtype());
        long perThread8 = (x.cols() + 7) / 8;
        int threads = (int) Math.min(LaunchBounds.require(name).maxThreads(),
                Math.max(32, Long.highestOneBit(Math.max(1, perThread8) * 2 - 1)));
        launcher.launch(new Kernel(module, name), Dim3.of((int) Math.min(x.rows(), MAX_GRID)),
                Dim3.of(threads), 0, device.defaultStream(), args);
    }

    private static CuBlas.DataType blasType(DType dtype) {
        return switch (dtype) {
            case F32 -> CuBlas.DataType.R_32F;
            case F16 -> CuBlas.DataType.R_16F;
            case BF16 -> CuBlas.DataType.R_16BF;
            default -> throw new AssertionError(dtype);
        };
    }

    private static String suffix(DType dtype) {
        return switch (dtype) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new AssertionError(dtype);
        };
    }
}
