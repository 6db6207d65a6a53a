// attention_prefill_paged.cu — entry points of chunked prefill against the paged KV cache
// (bodies, semantics and the full launch contract in attention_prefill_paged.cuh).
// Launch: grid (ceil(max_seqlen_q / 64), num_q_heads, batch), block (128, 1, 1), dynamic
// shared memory 4 * ((64 + 32) * (MAX_D + 4) + 32 * MAX_D + 64 * 36) bytes: 43,520 for _d64,
// 76,288 for _d128 (above 48 KiB: raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
// first) — the same as gatun_attention_prefill_*. head_dim % 8 == 0 and <= MAX_D; block_size
// a power of two; q, k_cache, v_cache, out 16-byte aligned; lse may be null.
// batch and max_seqlen_q only describe the grid; the kernel reads neither.
// __launch_bounds__(128, 1): with the default (128) ptxas aims the d64 build at 128 registers
// and spills a few bytes; minBlocks 1 lets it take 156-159 (d64) / 198-228 (d128) registers,
// zero spills, which still allows the blocks per SM that shared memory allows (3 d64 on sm_80,
// 2 d128).
#include "cuemu/prelude.h"
#include "attention_prefill_paged.cuh"

#define GATUN_PREFILL_PAGED(NAME, T, MAX_D)                                                      \
    extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads, 1)                       \
    NAME(                                              \
            const T* q, const T* k_cache, const T* v_cache, T* out, float* lse,                     \
            const int* cu_seqlens_q, const int* block_tables, const int* seq_lens, int batch,       \
            int num_q_heads, int num_kv_heads, int head_dim, int block_size,                        \
            int max_blocks_per_seq, int max_seqlen_q, float scale, int causal, int window_left) {   \
        (void)batch;                                                                                \
        (void)max_seqlen_q;                                                                         \
        gatun::prefill::attention_prefill_paged<T, MAX_D>(                                          \
            q, k_cache, v_cache, out, lse, cu_seqlens_q, block_tables, seq_lens, num_q_heads,       \
            num_kv_heads, head_dim, block_size, max_blocks_per_seq, scale, causal, window_left);    \
    }                                                                                               \
    CUEMU_EXPORT(NAME)

GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_f32_d64, float, 64);
GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_f32_d128, float, 128);
GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_f16_d64, __half, 64);
GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_f16_d128, __half, 128);
GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_bf16_d64, __nv_bfloat16, 64);
GATUN_PREFILL_PAGED(gatun_attention_prefill_paged_bf16_d128, __nv_bfloat16, 128);
