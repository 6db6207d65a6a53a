// attention_prefill_paged.cuh — chunked prefill against the paged KV cache: the queries of a
// new chunk attend to the keys already in the cache plus their own (already appended) keys.
// It is the flash prefill kernel of attention_prefill.cuh (same body, same tiling, same
// arithmetic order) with a K/V tile loader that reads through the block table.
//
// ---- Tensors (contiguous; T in {float, __half, __nv_bfloat16}; fp32 arithmetic, P rounded to a
//      16-bit T before P·V as in attention_prefill.cuh) --------------------------------------------
//   q, out        [total_q, num_q_heads, head_dim] T, packed varlen by cu_seqlens_q [batch+1]
//   k/v_cache     [num_blocks, block_size, num_kv_heads, head_dim] T
//   block_tables  [batch, max_blocks_per_seq] int32 (physical block ids, any order)
//   seq_lens      [batch] int32: keys 0 .. seq_len-1 of sequence b, INCLUDING this chunk's own
//                 keys at the end (append before attending)
//   lse           [total_q, num_q_heads] float, natural log; may be null (not written)
//
// ---- Semantics ------------------------------------------------------------------------------
//   len_q = cu_seqlens_q[b+1] - cu_seqlens_q[b], len_k = seq_lens[b]; the chunk's query i sits
//   at position i + (len_k - len_q). Query i sees key j iff j < len_k and
//     causal:          j <= i + (len_k - len_q)      (bottom-right aligned)
//     window_left>=0:  j >= i + (len_k - len_q) - window_left
//   exactly the contiguous kernel's rule with cu_seqlens_k replaced by seq_lens. A row that
//   sees no key gets out = 0 and lse = -inf.
//
// ---- Launch contract (exact; identical to gatun_attention_prefill_*) --------------------------
//   kernel  gatun_attention_prefill_paged_{f32,f16,bf16}_d{64,128}   (MAX_D = 64 or 128)
//   grid    (ceil(max_seqlen_q / 64), num_q_heads, batch)
//   block   (128, 1, 1)
//   dynamic shared memory, bytes: 4 * ((64 + 32) * (MAX_D + 4) + 32 * MAX_D + 64 * 36)
//           d64: 43,520 B;  d128: 76,288 B (> 48 KiB: set
//           CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to 76288 first)
//   Requires: max_seqlen_q >= every len_q; head_dim % 8 == 0, 8 <= head_dim <= MAX_D (72..128
//   use d128); num_q_heads % num_kv_heads == 0; block_size a power of two (>= 1);
//   0 <= seq_len <= max_blocks_per_seq * block_size; block_tables[b][0 .. ceil(seq_len /
//   block_size) - 1] valid block ids in [0, num_blocks) (entries past that are never read);
//   q, k_cache, v_cache, out 16-byte aligned. len_q <= seq_len is the chunked-prefill case
//   (len_q > seq_len is well defined by the rule above but not a state the engine produces).
//   batch and max_seqlen_q only describe the grid (the kernel reads neither);
//   max_blocks_per_seq is the row stride of block_tables.
//
// ---- Numerics / determinism --------------------------------------------------------------
//   Key tiles of 32 start at multiples of 32 from key 0 (fixed by position), so results are
//   batch invariant and independent of thread order; for the same keys in contiguous form
//   (cu_seqlens_k with len_k = seq_len) the output and lse are BIT-IDENTICAL to
//   gatun_attention_prefill_* (same body; the loader only copies the same values into the same
//   shared-memory slots).
#pragma once

#include "attention_prefill.cuh"

namespace gatun {
namespace prefill {

// Paged K/V (the K/V source of VarlenMap): key j of the sequence lives in physical block
// table[j >> block_shift], row j & (block_size - 1). stage_rows' thread-to-(row, 8-column chunk)
// map gives coalesced 16-byte loads within a key row (rows of one block are also adjacent).
template <typename T>
struct PagedKV {
    const T* k;                // k_cache (+ kvh * head_dim once bound)
    const T* v;                // v_cache (+ kvh * head_dim once bound)
    const int* block_tables;   // [batch, max_blocks_per_seq]
    const int* seq_lens;       // [batch]
    const int* table;          // block_tables row of the sequence
    long long row_stride;      // num_kv_heads * head_dim
    int max_blocks_per_seq;
    int block_shift;           // log2(block_size)
    __device__ __forceinline__ int begin(int b) {
        table = block_tables + static_cast<long long>(b) * max_blocks_per_seq;
        return seq_lens[b];
    }
    __device__ __forceinline__ void bind(int kvh, long long kv_row_stride, int head_dim) {
        row_stride = kv_row_stride;
        const long long o = static_cast<long long>(kvh) * head_dim;
        k += o;
        v += o;
    }
    __device__ __forceinline__ long long slot(int key) const {
        return (static_cast<long long>(table[key >> block_shift]) << block_shift) |
               (key & ((1 << block_shift) - 1));
    }
    __device__ __forceinline__ const T* k_row(int n) const { return k + slot(n) * row_stride; }
    __device__ __forceinline__ const T* v_row(int n) const { return v + slot(n) * row_stride; }
};

template <typename T, int MAX_D>
__device__ __forceinline__ void attention_prefill_paged(
    const T* __restrict__ q, const T* __restrict__ k_cache, const T* __restrict__ v_cache,
    T* __restrict__ out, float* __restrict__ lse, const int* cu_seqlens_q,
    const int* block_tables, const int* seq_lens, int num_q_heads, int num_kv_heads,
    int head_dim, int block_size, int max_blocks_per_seq, float scale, int causal,
    int window_left) {
    VarlenMap<T, PagedKV<T>> map;
    map.q = q;
    map.out = out;
    map.lse = lse;
    map.cu_seqlens_q = cu_seqlens_q;
    map.kv.k = k_cache;
    map.kv.v = v_cache;
    map.kv.block_tables = block_tables;
    map.kv.seq_lens = seq_lens;
    map.kv.max_blocks_per_seq = max_blocks_per_seq;
    map.kv.block_shift = __ffs(block_size) - 1;  // block_size is a power of two
    map.num_q_heads = num_q_heads;
    map.num_kv_heads = num_kv_heads;
    map.causal = causal;
    map.window_left = window_left;
    attention_tile_body<T, MAX_D>(map, head_dim, scale);
}

}  // namespace prefill
}  // namespace gatun
