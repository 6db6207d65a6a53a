package dev.gatun.ops;

import dev.gatun.tensor.Tensor;

/** One device's implementation of the ops; arguments are already validated by {@link Ops}. */
sealed interface Backend permits CpuBackend, KernelBackend {
    void softmax(Rows x, Rows y);

    void rmsNorm(Rows x, Tensor weight, float eps, Rows y);

    void rowSum(Rows x, Tensor out);

    void prefill(AttentionCalls.Prefill call);

    void decode(AttentionCalls.Decode call);

    void prefillPaged(AttentionCalls.PrefillPaged call);

    void sample(AttentionCalls.Sample call);

    /** n Philox uniforms into fp32 {@code out} from counters step, step+1, ... */
    void philoxUniform(Tensor out, long seed, long step);

    void rope(AttentionCalls.Rope call);

    void appendKv(AttentionCalls.AppendKv call);

    void add(Tensor a, Tensor b, Tensor y);

    /** y = x · wᵀ (+ bias, which may be null) over rows of x and y. */
    void linear(Rows x, Tensor w, Tensor bias, Rows y);

    /** y [rows, cols] = silu(gate) * up for x [rows, 2*cols] = [gate | up]. */
    void siluMul(Tensor x, Tensor y, long rows, long cols);

    void geluTanh(Tensor x, Tensor y);

    /** y [tokens, hidden] = table[ids]; ids (int32, on the device) already checked in range. */
    void embedding(Tensor ids, Tensor table, Tensor y);

    /** The fused diffusion sampler step (kernels/diffusion.cuh); validated by {@link DiffusionOps}. */
    void diffusionStep(DiffusionOps.StepCall call);

    /** Guidance rescale factors into fp32 {@code factor [n]} for {@code model [2n, len]}. */
    void cfgRescale(Tensor model, Tensor params, Tensor factor, long n, long len);

    // ---- the DiT glue (kernels/dit.cuh); validated by DitOps ----

    /** y = LayerNorm(x) · (1 + scale_b) + shift_b; rows of x/y contiguous, batch element b's vectors at b · modStride. */
    void adaLayerNorm(DitOps.Modulated call, Tensor shift, Tensor scale, float eps);

    /** out = x + gate_b · y. */
    void gatedResidual(DitOps.Modulated call, Tensor gate, Tensor y);

    /** Latent to tokens (toTokens) or back; both contiguous. */
    void patchify(Tensor src, Tensor dst, DitOps.Patches p, boolean toTokens);

    /** emb [n, dim] from fp32 timesteps t [n]. */
    void timestepEmbedding(Tensor t, Tensor emb, float maxPeriod);
    /** Full / spatial / temporal video attention (kernels/video_attention.cuh); validated by {@link VideoAttention}. */
    void videoAttention(VideoAttention.Call call);
}
