// kv_cache.cuh — append new tokens' K/V to the paged KV cache through a slot
// mapping, with RoPE fused: q is rotated in place and k is rotated on its way into
// the cache, in the same launch (one pass over q, k, v instead of three).
//
// Tensors (contiguous, T in {float, __half, __nv_bfloat16}):
//   q [num_tokens, num_q_heads, head_dim]          in/out (roped in place)
//   k, v [num_tokens, num_kv_heads, head_dim]      in (k is NOT modified)
//   k_cache, v_cache [num_blocks, block_size, num_kv_heads, head_dim]
//   slot_mapping [num_tokens] int64: physical slot s = block_id * block_size + offset;
//     s < 0 marks a padding token: its q is still roped, nothing is written to the cache.
//   positions [num_tokens] int32 (rope positions; unread when rotary_dim == 0).
// Token t writes k_cache[s / block_size][s % block_size][h][:] = rope(k[t][h][:]) and
// the same for v (no rope). rotary_dim == 0: no rope at all (plain append, q untouched).
// Rope math, numerics and styles: rope.cuh (shared code, so the fused and the
// stand-alone rope give identical bits).
//
// Launch contract of gatun_kv_append_rope_*: block (B,1,1), B % 32 == 0,
// 32 <= B <= 1024 (128 recommended); any grid (gridDim.x,1,1) >= 1, tokens
// grid-strided (num_tokens blocks is fine); no dynamic shared memory, 3 KiB static.
// Requires: rotary_dim even, 0 <= rotary_dim <= head_dim, rotary_dim <= 512, style 0/1,
// block_size a power of two, every non-negative slot < num_blocks * block_size and no
// two tokens with the same slot (their writes would race). The copy of v and of the
// unrotated tail of k is elementwise (coalesced; consecutive threads, consecutive
// elements). Every thread reaches every barrier.
#pragma once

#include "common.cuh"
#include "rope.cuh"

namespace gatun {

template <typename T>
__device__ __forceinline__ void kv_append_rope(T* q, const T* k, const T* v, T* k_cache, T* v_cache,
                                               const long long* slot_mapping, const int* positions,
                                               int num_tokens, int num_q_heads, int num_kv_heads,
                                               int head_dim, int block_size, int rotary_dim, float theta,
                                               RopeScaling sc, int style) {
    __shared__ float inv_freq[kRopeMaxHalf];
    __shared__ float cs[kRopeMaxHalf];
    __shared__ float sn[kRopeMaxHalf];
    const bool rope = rotary_dim > 0;
    const int half = rotary_dim / 2;
    const long long row = (long long)num_kv_heads * head_dim;  // elements per token in k, v and a slot
    if (rope) rope_fill_inv_freq(inv_freq, rotary_dim, theta, sc);
    for (int t = blockIdx.x; t < num_tokens; t += gridDim.x) {
        if (rope) {  // uniform branch: rope is the same for every thread
            __syncthreads();  // inv_freq ready; the previous token is done with cs/sn
            rope_fill_cos_sin(cs, sn, inv_freq, rotary_dim, positions[t]);
            __syncthreads();
            rope_row_inplace(q + (long long)t * num_q_heads * head_dim, num_q_heads, head_dim, rotary_dim,
                             style, cs, sn);
        }
        const long long s = slot_mapping[t];
        if (s < 0) continue;  // padding: no cache write (uniform per block)
        // [block, offset, h, d] layout: slot s = block * block_size + offset starts at s * row.
        const long long blk = s / block_size;
        const long long off = s - blk * block_size;
        const long long dst_base = (blk * block_size + off) * row;
        const T* kt = k + (long long)t * row;
        const T* vt = v + (long long)t * row;
        T* kc = k_cache + dst_base;
        T* vc = v_cache + dst_base;
        if (rope) {
            const int n = num_kv_heads * half;
            for (int idx = threadIdx.x; idx < n; idx += blockDim.x) {
                const int h = idx / half;
                const int i = idx - h * half;
                rope_pair(kt + (long long)h * head_dim, kc + (long long)h * head_dim, i, half, style, cs[i],
                          sn[i]);
            }
            const int tail = head_dim - rotary_dim;
            if (tail > 0) {
                const int m = num_kv_heads * tail;
                for (int idx = threadIdx.x; idx < m; idx += blockDim.x) {
                    const int h = idx / tail;
                    const long long e = (long long)h * head_dim + rotary_dim + (idx - h * tail);
                    kc[e] = kt[e];
                }
            }
        } else {
            for (long long e = threadIdx.x; e < row; e += blockDim.x) kc[e] = kt[e];
        }
        for (long long e = threadIdx.x; e < row; e += blockDim.x) vc[e] = vt[e];
    }
}

}  // namespace gatun
