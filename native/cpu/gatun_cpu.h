// Gatun CPU device: vectorized, multi-threaded kernels (C API for Java FFM).
// Built twice from the same sources: x86-64-v3 (AVX2+FMA+F16C) and avx512 (x86-64-v4 + BF16).
// Java loads the v3 library, asks gatun_cpu_has_avx512(), and loads the avx512 one if it says 1.
#ifndef GATUN_CPU_H
#define GATUN_CPU_H

#define GATUN_CPU_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

// dtype codes
enum { GATUN_F32 = 0, GATUN_F16 = 1, GATUN_BF16 = 2 };

// return codes (0 = success); Java validates first, these are a last guard
enum {
  GATUN_CPU_OK = 0,
  GATUN_CPU_EDTYPE = 1,   // unknown dtype
  GATUN_CPU_ENULL = 2,    // null pointer where data is needed
  GATUN_CPU_ESHAPE = 3,   // rows < 0, cols < 1, bytes < 0, or sizes too large
  GATUN_CPU_ESTRIDE = 4,  // |stride| < cols with rows > 1
  GATUN_CPU_EALIAS = 5    // x == y with different strides
};

GATUN_CPU_API int         gatun_cpu_has_avx512(void);       // cpuid+xgetbv: avx512 f+bw+vl+dq usable
GATUN_CPU_API int         gatun_cpu_has_avx512_bf16(void);  // ... and avx512_bf16
// Whether this library's kernels use the avx512_bf16 instructions: use 0 turns them off, 1 on (only
// where the CPU has them), < 0 asks. Returns the state in effect; always 0 in the x86-64-v3 build.
// For tests of the other paths; not while kernels run.
GATUN_CPU_API int         gatun_cpu_use_avx512_bf16(int use);
GATUN_CPU_API const char* gatun_cpu_isa(void);              // "x86-64-v3" or "avx512": what this library was compiled for
GATUN_CPU_API int         gatun_cpu_set_threads(int n);     // 0 = all hardware threads; returns threads in effect
GATUN_CPU_API int         gatun_cpu_threads(void);

// Strides are in elements. Input and output rows may not alias unless x == y exactly (in place).
// Math is fp32 for every dtype; a row's result never depends on thread count or batch.
GATUN_CPU_API int gatun_cpu_softmax(int dtype, const void* x, long long x_stride, void* y, long long y_stride,
                                    long long rows, long long cols);
// weight: cols elements of the same dtype, or NULL for no weight
GATUN_CPU_API int gatun_cpu_rms_norm(int dtype, const void* x, long long x_stride, const void* weight, float eps,
                                     void* y, long long y_stride, long long rows, long long cols);
GATUN_CPU_API int gatun_cpu_row_sum(int dtype, const void* x, long long x_stride, float* out,
                                    long long rows, long long cols);
// Copy-bandwidth probe (the ceiling for elementwise ops): multi-threaded memcpy, streaming stores when large.
GATUN_CPU_API int gatun_cpu_copy(void* dst, const void* src, long long bytes);

// ---------------------------------------------------------------- attention (LLM)
// Shapes are row-major and contiguous; all math in fp32 whatever the dtype. Return 0 or an error code.
// A row's result never depends on the batch it is in or on the thread count.
//
// Flash prefill over a varlen packed batch. q/out [total_q, Hq, D], k/v [total_k, Hkv, D], lse [total_q, Hq]
// (natural log; -inf with a zero output row for a query that sees no key). cu_seqlens_q/k [batch + 1],
// prefix sums starting at 0. GQA: q head h reads kv head h / (Hq / Hkv). Causal masks are bottom-right
// aligned: query i of a sequence sees key j iff j <= i + (len_k - len_q). window_left >= 0 also requires
// j >= i + (len_k - len_q) - window_left (applied in non-causal mode too); < 0 = no window.
// head_dim: a multiple of 8 up to 256.
GATUN_CPU_API int gatun_cpu_attention_prefill(int dtype, const void* q, const void* k, const void* v, void* out,
                                              float* lse, const int* cu_seqlens_q, const int* cu_seqlens_k,
                                              int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                              float scale, int causal, int window_left);
// Paged decode: one query token per sequence. q/out [batch, Hq, D], lse [batch, Hq];
// k_cache/v_cache [num_blocks, block_size, Hkv, D]; block_tables [batch, max_blocks_per_seq];
// seq_lens [batch] (keys 0 .. seq_len-1, the query is at position seq_len-1). window_left >= 0 masks
// keys j < seq_len - 1 - window_left. Split-KV: split p covers keys [p*split_size, (p+1)*split_size)
// (split_size <= 0: 512); partials merged by log-sum-exp in split order.
// seq_len 0 gives a zero row and lse -inf.
GATUN_CPU_API int gatun_cpu_attention_decode(int dtype, const void* q, const void* k_cache, const void* v_cache,
                                             const int* block_tables, const int* seq_lens, void* out, float* lse,
                                             int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                             int block_size, int max_blocks_per_seq, int split_size, float scale,
                                             int window_left);
// Rotary embedding in place on x [num_tokens, num_heads, head_dim]; the first rotary_dim (even, <= head_dim)
// features rotate. style 0 = NeoX (pairs i, i + rotary_dim/2), 1 = interleaved (pairs 2i, 2i+1).
// inv_freq_i = pow((double)theta, -2i / rotary_dim), scaled as Hugging Face rope_scaling says, rounded
// once to fp32: scale_factor 1 none; scale_original 0 "linear" (every frequency / factor); else
// "llama3" (factor, low_freq_factor = scale_low, high_freq_factor = scale_high,
// original_max_position_embeddings = scale_original). angle = (float)pos * inv_freq_i in fp32;
// cos/sin = glibc cosf/sinf of that fp32 angle.
GATUN_CPU_API int gatun_cpu_rope(int dtype, void* x, const int* positions, int num_tokens, int num_heads,
                                 int head_dim, int rotary_dim, float theta, float scale_factor, float scale_low,
                                 float scale_high, float scale_original, int style);
// Fused decode-step append: ropes q [num_tokens, Hq, D] in place, writes rope(k) and v
// ([num_tokens, Hkv, D]) into k_cache/v_cache [num_blocks, block_size, Hkv, D] at slot s =
// slot_mapping[t] (block s / block_size, row s % block_size); s < 0 skips that token's cache write.
// rotary_dim 0 = no rope (plain append); rope and its scaling as gatun_cpu_rope. k and v are not modified.
GATUN_CPU_API int gatun_cpu_kv_append_rope(int dtype, void* q, const void* k, const void* v, void* k_cache,
                                           void* v_cache, const long long* slot_mapping, const int* positions,
                                           int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,
                                           int block_size, int rotary_dim, float theta, float scale_factor,
                                           float scale_low, float scale_high, float scale_original, int style);
// FMA-peak probe (ceiling for compute-bound ops): every pool thread runs `iters` rounds of independent
// vector FMA chains at this library's width; returns GFLOP/s (an FMA = 2 FLOPs), < 0 on bad input.
GATUN_CPU_API double gatun_cpu_fma_peak_gflops(long long iters);
// The same for the bf16 pair dot products (vdpbf16ps, 4 FLOPs per lane) that the bf16 flash tiles run
// on where this library and CPU use them; -1 elsewhere (the tiles widen bf16 to fp32 FMAs there).
GATUN_CPU_API double gatun_cpu_bf16_dot_peak_gflops(long long iters);

#ifdef __cplusplus
}
#endif
#endif

// ---------------------------------------------------------------- GEMM (linear layers)
#ifndef GATUN_CPU_GEMM_DECL
#define GATUN_CPU_GEMM_DECL
#ifdef __cplusplus
extern "C" {
#endif
// Y[m, n] = X[m, k] . W[n, k]^T (+ bias[n] when bias != NULL). X, W, bias and Y all have `dtype`
// (GATUN_F32 / F16 / BF16), are row-major with leading dimensions ldx, ldw, ldy in elements
// (ld >= cols when rows > 1). fp32 accumulation; Y rounded once. m, n or k may be 0 (k = 0 gives
// bias or zeros). Y may not overlap X, W or bias (GATUN_CPU_EALIAS).
// Every element is one fp32 FMA chain over k = 0..k-1 (never split), plus bias: results are
// bit-identical whatever the thread count and the batch (m) a row is in; the v3 and avx512 builds
// agree bit for bit too (bf16 outputs: except results in the subnormal range, which the avx512
// build's hardware conversion flushes to zero).
// Returns 0 or a GATUN_CPU_E* code.
GATUN_CPU_API int gatun_cpu_gemm(int dtype, const void* x, long long ldx, const void* w, long long ldw,
                                 const void* bias, void* y, long long ldy, long long m, long long n, long long k);

// ---------------------------------------------------------------- sampling (LLM)
// Philox4x32-10 uniforms (kernels/philox.cuh): out[i] = (philox(key = seed, counter = (step + i, 0, 0)).x >> 8)
// * 2^-24, bit-identical to the gatun_philox_uniform kernel. Returns 0 or an error code.
GATUN_CPU_API int gatun_cpu_philox_uniform(float* out, long long seed, long long step, long long n);
// One token per row of logits [batch, vocab] fp32 (row stride vocab): greedy when temperature <= 0, else
// temperature, top-k (<= 0 or >= vocab: off), top-p (>= 1: off), inverse-CDF with one Philox uniform per
// (seed, step). Exactly the definition in kernels/sampling.cuh: the same tokens as gatun_sample_f32.
GATUN_CPU_API int gatun_cpu_sample(const float* logits, int* tokens, const float* temperature, const int* top_k,
                                   const float* top_p, const long long* seeds, const long long* steps, int batch,
                                   int vocab);

// ---------------------------------------------------------------- elementwise (transformer glue)
// Contiguous tensors, fp32 math, one rounding per output. Returns 0 or a GATUN_CPU_E* code.
GATUN_CPU_API int gatun_cpu_add(int dtype, const void* a, const void* b, void* y, long long n);  // y = a + b
// x [rows, 2*cols] = [gate | up] per row -> y [rows, cols] = silu(gate) * up (SwiGLU)
GATUN_CPU_API int gatun_cpu_silu_mul(int dtype, const void* x, void* y, long long rows, long long cols);
GATUN_CPU_API int gatun_cpu_gelu_tanh(int dtype, const void* x, void* y, long long n);  // tanh-form GELU
// y[t, :] = table[ids[t], :] for table [vocab, hidden]; an id outside [0, vocab) is an error
GATUN_CPU_API int gatun_cpu_embedding(int dtype, const int* ids, const void* table, long long vocab, void* y,
                                      long long tokens, long long hidden);

// ---------------------------------------------------------------- chunked prefill against the paged cache
// (attention_prefill_paged.cpp) The queries of a new chunk attend to the keys already in the paged cache plus
// their own, already appended, keys. q/out [total_q, Hq, D] packed by cu_seqlens_q [batch + 1] (prefix sums
// from 0), lse [total_q, Hq] (natural log; -inf and a zero row for a query that sees no key);
// k_cache/v_cache [num_blocks, block_size, Hkv, D]; block_tables [batch, max_blocks_per_seq]; seq_lens [batch]
// (keys 0 .. seq_len-1 of the sequence INCLUDING the chunk's own; query i sits at position
// seq_len - len_q + i). Query i sees key j iff j <= i + (seq_len - len_q) when causal, and
// j >= i + (seq_len - len_q) - window_left when window_left >= 0 (also when not causal). GQA: q head h reads
// kv head h / (Hq / Hkv). head_dim a multiple of 8 up to 256; block_size >= 1; seq_len <= max_blocks_per_seq
// * block_size; the first ceil(seq_len / block_size) entries of a table row must be valid block ids (not
// checked against num_blocks, which this API does not take; negative ids give GATUN_CPU_ESHAPE).
GATUN_CPU_API int gatun_cpu_attention_prefill_paged(int dtype, const void* q, const void* k_cache, const void* v_cache,
                                                    void* out, float* lse, const int* cu_seqlens_q,
                                                    const int* block_tables, const int* seq_lens, int batch,
                                                    int num_q_heads, int num_kv_heads, int head_dim, int block_size,
                                                    int max_blocks_per_seq, float scale, int causal, int window_left);

#ifdef __cplusplus
}
#endif
#endif

// ---------------------------------------------------------------- diffusion (diffusion.cpp)
#ifndef GATUN_CPU_DIFFUSION_DECL
#define GATUN_CPU_DIFFUSION_DECL
#ifdef __cplusplus
extern "C" {
#endif
// The fused sampler step of kernels/diffusion.cuh (its header is the definition). n samples of len
// contiguous elements of `dtype`; params [n, 8] fp32 {a, b, c, d, p, q, g, phi}; seeds/steps [n].
// cfg != 0: model [2n, len] = [cond | uncond] (sample s pairs rows s and s + n), m = u + g (k - u);
// else model [n, len]. m *= factor[s] when factor != NULL. out = a x + b m (+ c prev when prev != NULL)
// (+ d z when d != 0, z the Philox/Box-Muller normal of (seeds[s], steps[s], j)); x0_out = p x + q m
// when x0_out != NULL. out may alias x, x0_out may alias prev. Returns 0 or a GATUN_CPU_E* code.
GATUN_CPU_API int gatun_cpu_diffusion_step(int dtype, const void* x, const void* model, const void* prev, void* out,
                                           void* x0_out, const float* params, const float* factor,
                                           const long long* seeds, const long long* steps, long long n, long long len,
                                           int cfg);
// Guidance rescale (Lin et al. 2023): factor[s] = 1 - phi + phi * std(cond_s) / std(guided_s) for
// model [2n, len] = [cond | uncond], guided = u + g (k - u) in fp32, g = params[s*8+6], phi = params[s*8+7];
// statistics in double; zero guided variance gives 1. len <= 2^31 - 1.
GATUN_CPU_API int gatun_cpu_cfg_rescale(int dtype, const void* model, const float* params, float* factor, long long n,
                                        long long len);
#ifdef __cplusplus
}
#endif
#endif

// ---------------------------------------------------------------- DiT glue (dit.cpp; kernels/dit.cuh defines each op)
#ifndef GATUN_CPU_DIT_DECL
#define GATUN_CPU_DIT_DECL
#ifdef __cplusplus
extern "C" {
#endif
// Contiguous x, y [rows, cols], rows = batch * rows_per_batch; shift/scale/gate hold cols values per batch element,
// element b's at b * mod_stride (>= cols). fp32 math, one rounding per output. Return 0 or a GATUN_CPU_E* code.
// y = LayerNorm(x) (no affine; biased variance) * (1 + scale_b) + shift_b
GATUN_CPU_API int gatun_cpu_ada_layer_norm(int dtype, const void* x, const void* shift, const void* scale, void* y,
                                           long long rows, long long cols, long long rows_per_batch,
                                           long long mod_stride, float eps);
// out = x + gate_b * y (out may be x)
GATUN_CPU_API int gatun_cpu_gated_residual(int dtype, const void* x, const void* gate, const void* y, void* out,
                                           long long rows, long long cols, long long rows_per_batch,
                                           long long gate_stride);
// to_tokens != 0: latent [batch, c, f, h, w] -> tokens [batch, f/pt, (h/ph)(w/pw), c*pt*ph*pw]; else the inverse.
GATUN_CPU_API int gatun_cpu_patchify(int dtype, const void* src, void* dst, long long batch, long long c, long long f,
                                     long long h, long long w, long long pt, long long ph, long long pw, int to_tokens);
// emb [n, dim] = [cos(t f_j) | sin(t f_j)] (f_j = max_period^(-j/(dim/2)), 0 in an odd dim's last column), t [n] fp32
GATUN_CPU_API int gatun_cpu_timestep_embedding(int dtype, const float* t, void* emb, long long n, long long dim,
                                               float max_period);
#ifdef __cplusplus
}
#endif
#endif

// ---------------------------------------------------------------- video attention (video_attention.cpp)
#ifndef GATUN_CPU_VIDEO_DECL
#define GATUN_CPU_VIDEO_DECL
#ifdef __cplusplus
extern "C" {
#endif
// Full 3D / spatial / temporal attention over video tokens [B, T, S, H, D] read with strides, the twin of
// kernels/video_attention.cuh (its header is the definition). Sequence z (< num_seq) has text_len + seq_len
// tokens: token i < text_len is row z*text_len + i of text_q/k/v/out [num_seq, text_len, H(kv), D]; token
// i >= text_len is row (z / per)*outer + (z % per)*inner + (i - text_len)*step of q/k/v/out (rows of H(kv)*D
// elements). causal != 0: token i sees keys j <= i. GQA: q head h reads kv head h / (Hq / Hkv). head_dim a
// multiple of 8 up to 256. Text pointers may be NULL when text_len == 0. Returns 0 or a GATUN_CPU_E* code.
GATUN_CPU_API int gatun_cpu_video_attention(int dtype, const void* q, const void* k, const void* v, void* out,
                                            const void* text_q, const void* text_k, const void* text_v,
                                            void* text_out, int num_seq, int text_len, int seq_len, int per,
                                            long long outer, long long inner, long long step, int num_q_heads,
                                            int num_kv_heads, int head_dim, float scale, int causal);
#ifdef __cplusplus
}
#endif
#endif
