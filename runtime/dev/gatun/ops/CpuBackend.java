package dev.gatun.ops;

import dev.gatun.bindings.gatun.CpuLibrary;
import dev.gatun.device.CpuDevice;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/** The ops on the cpu device: one downcall per op into native/cpu's vectorized, threaded kernels. */
record CpuBackend(CpuDevice device) implements Backend {
    @Override
    public void softmax(Rows x, Rows y) {
        device.library().softmax(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(),
                y.tensor().dataAddress(), y.rowStride(), x.rows(), x.cols());
    }

    @Override
    public void rmsNorm(Rows x, Tensor weight, float eps, Rows y) {
        device.library().rmsNorm(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(), weight.dataAddress(), eps,
                y.tensor().dataAddress(), y.rowStride(), x.rows(), x.cols());
    }

    @Override
    public void rowSum(Rows x, Tensor out) {
        device.library().rowSum(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(), out.dataAddress(), x.rows(), x.cols());
    }

    @Override
    public void prefill(AttentionCalls.Prefill c) {
        device.library().attentionPrefill(code(c.q().dtype()), c.q().dataAddress(), c.k().dataAddress(), c.v().dataAddress(),
                c.out().dataAddress(), c.lse().dataAddress(), c.cuSeqlensQ().dataAddress(), c.cuSeqlensK().dataAddress(),
                c.batch(), c.qHeads(), c.kvHeads(), c.headDim(), c.scale(), c.causal(), c.windowLeft());
    }

    @Override
    public void decode(AttentionCalls.Decode c) {
        device.library().attentionDecode(code(c.q().dtype()), c.q().dataAddress(), c.kCache().dataAddress(), c.vCache().dataAddress(),
                c.blockTables().dataAddress(), c.seqLens().dataAddress(), c.out().dataAddress(), c.lse().dataAddress(),
                c.batch(), c.qHeads(), c.kvHeads(), c.headDim(), c.blockSize(), c.maxBlocksPerSeq(), c.splitSize(), c.scale(), c.windowLeft());
    }

    @Override
    public void prefillPaged(AttentionCalls.PrefillPaged c) {
        device.library().attentionPrefillPaged(code(c.q().dtype()), c.q().dataAddress(), c.kCache().dataAddress(), c.vCache().dataAddress(),
                c.out().dataAddress(), c.lse().dataAddress(), c.cuSeqlensQ().dataAddress(), c.blockTables().dataAddress(),
                c.seqLens().dataAddress(), c.batch(), c.qHeads(), c.kvHeads(), c.headDim(), c.blockSize(), c.maxBlocksPerSeq(),
                c.scale(), c.causal(), c.windowLeft());
    }

    @Override
    public void sample(AttentionCalls.Sample c) {
        device.library().sample(c.logits().dataAddress(), c.tokens().dataAddress(), c.temperature().dataAddress(), c.topK().dataAddress(),
                c.topP().dataAddress(), c.seeds().dataAddress(), c.steps().dataAddress(), c.batch(), c.vocab());
    }

    @Override
    public void philoxUniform(Tensor out, long seed, long step) {
        device.library().philoxUniform(out.dataAddress(), seed, step, out.numel());
    }

    @Override
    public void rope(AttentionCalls.Rope c) {
        device.library().rope(code(c.x().dtype()), c.x().dataAddress(), c.positions().dataAddress(), c.tokens(), c.heads(),
                c.headDim(), c.rope().rotaryDim(), c.rope().theta(), c.rope().scaling().arguments(), c.rope().style().ordinal());
    }

    @Override
    public void appendKv(AttentionCalls.AppendKv c) {
        device.library().kvAppendRope(code(c.q().dtype()), c.q().dataAddress(), c.k().dataAddress(), c.v().dataAddress(),
                c.kCache().dataAddress(), c.vCache().dataAddress(), c.slots().dataAddress(), c.positions().dataAddress(),
                c.tokens(), c.qHeads(), c.kvHeads(), c.headDim(), c.blockSize(), c.rope().rotaryDim(), c.rope().theta(),
                c.rope().scaling().arguments(), c.rope().style().ordinal());
    }

    @Override
    public void linear(Rows x, Tensor w, Tensor bias, Rows y) {
        device.library().gemm(code(x.dtype()), x.tensor().dataAddress(), x.rowStride(), w.dataAddress(), w.shape(1),
                bias == null ? 0 : bias.dataAddress(), y.tensor().dataAddress(), y.rowStride(), x.rows(), y.cols(), x.cols());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        device.library().add(code(a.dtype()), a.dataAddress(), b.dataAddress(), y.dataAddress(), a.numel());
    }

    @Override
    public void siluMul(Tensor x, Tensor y, long rows, long cols) {
        device.library().siluMul(code(x.dtype()), x.dataAddress(), y.dataAddress(), rows, cols);
    }

    @Override
    public void geluTanh(Tensor x, Tensor y) {
        device.library().geluTanh(code(x.dtype()), x.dataAddress(), y.dataAddress(), x.numel());
    }

    @Override
    public void embedding(Tensor ids, Tensor table, Tensor y) {
        device.library().embedding(code(table.dtype()), ids.dataAddress(), table.dataAddress(), table.shape(0), y.dataAddress(),
                ids.numel(), table.shape(1));
    }

    @Override
    public void diffusionStep(DiffusionOps.StepCall c) {
        device.library().diffusionStep(code(c.x().dtype()), c.x().dataAddress(), c.model().dataAddress(),
                c.prev() == null ? 0 : c.prev().dataAddress(), c.out().dataAddress(), c.x0Out() == null ? 0 : c.x0Out().dataAddress(),
                c.params().dataAddress(), c.factor() == null ? 0 : c.factor().dataAddress(), c.seeds().dataAddress(),
                c.steps().dataAddress(), c.n(), c.len(), c.cfg());
    }

    @Override
    public void cfgRescale(Tensor model, Tensor params, Tensor factor, long n, long len) {
        device.library().cfgRescale(code(model.dtype()), model.dataAddress(), params.dataAddress(), factor.dataAddress(), n, len);
    }

    @Override
    public void adaLayerNorm(DitOps.Modulated c, Tensor shift, Tensor scale, float eps) {
        device.library().adaLayerNorm(code(c.x().dtype()), c.x().dataAddress(), shift.dataAddress(), scale.dataAddress(),
                c.out().dataAddress(), c.rows(), c.cols(), c.rowsPerBatch(), c.modStride(), eps);
    }

    @Override
    public void gatedResidual(DitOps.Modulated c, Tensor gate, Tensor y) {
        device.library().gatedResidual(code(c.x().dtype()), c.x().dataAddress(), gate.dataAddress(), y.dataAddress(),
                c.out().dataAddress(), c.rows(), c.cols(), c.rowsPerBatch(), c.modStride());
    }

    @Override
    public void patchify(Tensor src, Tensor dst, DitOps.Patches p, boolean toTokens) {
        device.library().patchify(code(src.dtype()), src.dataAddress(), dst.dataAddress(), p.batch(), p.channels(), p.frames(),
                p.height(), p.width(), p.pt(), p.ph(), p.pw(), toTokens);
    }

    @Override
    public void timestepEmbedding(Tensor t, Tensor emb, float maxPeriod) {
        device.library().timestepEmbedding(code(emb.dtype()), t.dataAddress(), emb.dataAddress(), emb.shape(0), emb.shape(1), maxPeriod);
    }
    public void videoAttention(VideoAttention.Call c) {
        device.library().videoAttention(code(c.q().dtype()), c.q().dataAddress(), c.k().dataAddress(), c.v().dataAddress(),
                c.out().dataAddress(), address(c.textQ()), address(c.textK()), address(c.textV()), address(c.textOut()),
                c.numSeq(), c.textLen(), c.seqLen(), c.per(), c.outer(), c.inner(), c.step(), c.qHeads(), c.kvHeads(),
                c.headDim(), c.scale(), c.causal());
    }

    private static long address(Tensor t) { return t == null ? 0 : t.dataAddress(); }

    private static int code(DType dtype) {
        return switch (dtype) {
            case F32 -> CpuLibrary.F32;
            case F16 -> CpuLibrary.F16;
            case BF16 -> CpuLibrary.BF16;
            default -> throw new AssertionError(dtype);
        };
    }
}
