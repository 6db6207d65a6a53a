// attention_prefill.cu — entry points of the flash attention prefill family (bodies and the
// full launch contract in attention_prefill.cuh).
// Launch: grid (ceil(max_seqlen_q / 64), num_q_heads, batch), block (128, 1, 1), dynamic
// shared memory 4 * ((64 + 32) * (MAX_D + 4) + 32 * MAX_D + 64 * 36) bytes: 43,520 for _d64,
// 76,288 for _d128 (above 48 KiB: raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
// first). head_dim % 8 == 0 and <= MAX_D; q, k, v, out 16-byte aligned; lse may be null.
// batch and max_seqlen_q only describe the grid; the kernel reads neither.
#include "cuemu/prelude.h"
#include "attention_prefill.cuh"

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_f32_d64(
        const float* q, const float* k, const float* v, float* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<float, 64>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_f32_d64);

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_f32_d128(
        const float* q, const float* k, const float* v, float* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<float, 128>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_f32_d128);

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_f16_d64(
        const __half* q, const __half* k, const __half* v, __half* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<__half, 64>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_f16_d64);

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_f16_d128(
        const __half* q, const __half* k, const __half* v, __half* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<__half, 128>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_f16_d128);

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_bf16_d64(
        const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
        __nv_bfloat16* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<__nv_bfloat16, 64>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_bf16_d64);

extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads)
gatun_attention_prefill_bf16_d128(
        const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
        __nv_bfloat16* out, float* lse,
        const int* cu_seqlens_q, const int* cu_seqlens_k, int batch, int num_q_heads,
        int num_kv_heads, int head_dim, int max_seqlen_q, float scale, int causal,
        int window_left) {
    (void)batch;
    (void)max_seqlen_q;
    gatun::prefill::attention_prefill<__nv_bfloat16, 128>(
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim,
        scale, causal, window_left);
}
CUEMU_EXPORT(gatun_attention_prefill_bf16_d128);
