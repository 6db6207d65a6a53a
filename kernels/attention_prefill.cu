// attention_prefill.cu — entry points of the flash attention prefill family (bodies and the
// full launch contract in attention_prefill.cuh).
// Launch: grid (ceil(max_seqlen_q / 64), num_q_heads, batch), block (128, 1, 1), dynamic
// shared memory 4 * ((64 + 32) * (MAX_D + 4) + 32 * MAX_D + 64 * 36) bytes: 43,520 for _d64,
// 76,288 for _d128 (above 48 KiB: raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
// first). head_dim % 8 == 0 and <= MAX_D; q, k, v, out 16-byte aligned; lse may be null.
// batch and max_seqlen_q only describe the grid; the kernel reads neither.
// __launch_bounds__(128, 1): as the paged prefill; with the default, ptxas caps the shared
// body (attention_tile_body) at 128/168 registers and spills a few bytes.
#include "cuemu/prelude.h"
#include "attention_prefill.cuh"

#define GATUN_PREFILL(NAME, T, MAX_D)                                                            \
    extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads, 1)                        \
    NAME(                                                    \
            const T* q, const T* k, const T* v, T* out, float* lse, const int* cu_seqlens_q,        \
            const int* cu_seqlens_k, int batch, int num_q_heads, int num_kv_heads, int head_dim,    \
            int max_seqlen_q, float scale, int causal, int window_left) {                           \
        (void)batch;                                                                                \
        (void)max_seqlen_q;                                                                         \
        gatun::prefill::attention_prefill<T, MAX_D>(q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k,  \
                                                    num_q_heads, num_kv_heads, head_dim, scale,     \
                                                    causal, window_left);                           \
    }                                                                                               \
    CUEMU_EXPORT(NAME)

GATUN_PREFILL(gatun_attention_prefill_f32_d64, float, 64);
GATUN_PREFILL(gatun_attention_prefill_f32_d128, float, 128);
GATUN_PREFILL(gatun_attention_prefill_f16_d64, __half, 64);
GATUN_PREFILL(gatun_attention_prefill_f16_d128, __half, 128);
GATUN_PREFILL(gatun_attention_prefill_bf16_d64, __nv_bfloat16, 64);
GATUN_PREFILL(gatun_attention_prefill_bf16_d128, __nv_bfloat16, 128);
