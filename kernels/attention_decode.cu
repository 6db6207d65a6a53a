// attention_decode.cu — entry points of the paged decode-attention family (bodies and
// the full launch contracts in attention_decode.cuh).
//   gatun_attention_decode_<T>_d<D>: grid (batch*num_kv_heads*ceil(G/8), max_splits, 1),
//     block (128,1,1) exactly, no dynamic shared memory.
//   gatun_attention_merge_<T>: grid (any >= 1; batch*num_q_heads natural), block (B,1,1),
//     B % 32 == 0, 32 <= B <= 1024, no dynamic shared memory.
#include "cuemu/prelude.h"
#include "attention_decode.cuh"

// Keys in flight per lane group per iteration (KT): 2 keeps the 16-bit d128 kernel
// under its register budget with 8 query heads per CTA; the f32 kernels have half the
// per-lane slice width and take 4.
#define GATUN_DECODE(NAME, T, D, KT)                                                              \
    extern "C" __global__ void __launch_bounds__(gatun::kDecodeThreads)                            \
    NAME(const T* q, const T* k_cache, const T* v_cache, const int* block_tables,                 \
         const int* seq_lens, float* partial_out, float* partial_lse, int batch, int num_q_heads, \
         int num_kv_heads, int head_dim, int block_size, int max_blocks_per_seq, int split_size,  \
         int max_splits, float scale, int window_left) {                                          \
        gatun::attention_decode_split<T, D, KT>(q, k_cache, v_cache, block_tables, seq_lens,      \
                                                partial_out, partial_lse, batch, num_q_heads,     \
                                                num_kv_heads, head_dim, block_size,               \
                                                max_blocks_per_seq, split_size, max_splits, scale, \
                                                window_left);                                     \
    }                                                                                             \
    CUEMU_EXPORT(NAME)

GATUN_DECODE(gatun_attention_decode_f32_d64, float, 64, 2);
GATUN_DECODE(gatun_attention_decode_f32_d128, float, 128, 2);
GATUN_DECODE(gatun_attention_decode_f16_d64, __half, 64, 2);
GATUN_DECODE(gatun_attention_decode_f16_d128, __half, 128, 2);
GATUN_DECODE(gatun_attention_decode_bf16_d64, __nv_bfloat16, 64, 2);
GATUN_DECODE(gatun_attention_decode_bf16_d128, __nv_bfloat16, 128, 2);

#define GATUN_MERGE(NAME, T)                                                                      \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                             \
    NAME(const float* partial_out, const float* partial_lse, T* out, float* lse,                  \
         const int* seq_lens, int batch, int num_q_heads, int head_dim, int split_size,           \
         int max_splits) {                                                                        \
        gatun::attention_merge_splits(partial_out, partial_lse, out, lse, seq_lens, batch,        \
                                      num_q_heads, head_dim, split_size, max_splits);             \
    }                                                                                             \
    CUEMU_EXPORT(NAME)

GATUN_MERGE(gatun_attention_merge_f32, float);
GATUN_MERGE(gatun_attention_merge_f16, __half);
GATUN_MERGE(gatun_attention_merge_bf16, __nv_bfloat16);
