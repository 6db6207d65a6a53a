// rope.cuh — rotary position embedding (RoPE), in place, and the rope math that
// kv_cache.cuh fuses into the KV append.
//
// Tensor: x [num_tokens, num_heads, head_dim] (contiguous, T in {float, __half,
// __nv_bfloat16}), positions [num_tokens] int32. Only the first rotary_dim dims of
// each head are rotated; dims [rotary_dim, head_dim) are left untouched.
// Styles: kRopeNeox (0): pairs (i, i + rotary_dim/2) ("rotate_half", Llama/NeoX);
//         kRopeInterleaved (1): pairs (2i, 2i+1) (GPT-J).
// For pair i: (x0, x1) -> (x0*c - x1*s, x1*c + x0*s), c/s = cos/sin(pos * inv_freq_i).
//
// Numerics (the convention of HF/vLLM, which models are trained with):
//  * inv_freq_i = theta^(-2i/rotary_dim), scaled as rope_scaling says (RopeScaling), evaluated
//    in double and rounded once to fp32 (once per i per block, kept in shared memory);
//  * angle = float(pos) * inv_freq_i, ONE fp32 multiply (positions exact up to 2^24);
//  * sincosf (the accurate CUDA/libm one, full range reduction; not __sincosf) of the
//    fp32 angle, once per (token, i) and shared by all heads of the token.
//  So the angle carries the fp32 rounding of the product: |err| <= 0.5 ulp(angle),
//  e.g. <= 0.0039 rad at pos*inv_freq ~ 1e5. That is the framework behaviour, not a
//  bug: compare against a reference that rounds the angle the same way (the test
//  does) and expect ~1e-3 relative vs an all-double angle at positions ~1e5.
//  The rotation itself is two fmaf with the product rounded first, spelled out so
//  that g++ (emu, no contraction) and nvcc compute the same bits given the same c, s.
//
// Launch contract of gatun_rope_*: block (B,1,1), B % 32 == 0, 32 <= B <= 1024
// (128 recommended); any grid (gridDim.x,1,1) >= 1, tokens grid-strided (one CTA per
// token, gridDim.x = num_tokens, is the natural choice); no dynamic shared memory,
// 3 KiB static shared. ptxas: 0 spills; on sm_90a a 32-byte stack frame, the local
// array of sincosf's large-argument (Payne-Hanek) reduction, touched only when
// |angle| > ~1e5. Requires: rotary_dim even, 0 <= rotary_dim <= head_dim,
// rotary_dim <= 2 * kRopeMaxHalf (= 512); style 0 or 1; rotary_dim == 0 is a no-op.
// Every thread reaches every barrier: loop bounds depend on kernel arguments only.
#pragma once

#include "common.cuh"
#include "rope_scaling.h"

namespace gatun {

constexpr int kRopeMaxHalf = 256;  // rotary_dim <= 512
constexpr int kRopeNeox = 0;
constexpr int kRopeInterleaved = 1;

// Block-level: inv_freq[i] for i < half. Caller syncs before reading.
__device__ __forceinline__ void rope_fill_inv_freq(float* inv_freq, int rotary_dim, float theta, RopeScaling sc) {
    const int half = rotary_dim / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) inv_freq[i] = rope_inv_freq(i, rotary_dim, theta, sc);
}

// Block-level: cos/sin of pos * inv_freq[i] for i < half. Caller syncs before reading.
__device__ __forceinline__ void rope_fill_cos_sin(float* cs, float* sn, const float* inv_freq,
                                                  int rotary_dim, int pos) {
    const int half = rotary_dim / 2;
    const float p = (float)pos;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float s, c;
        sincosf(p * inv_freq[i], &s, &c);
        cs[i] = c;
        sn[i] = s;
    }
}

// Indices of pair i (i < rotary_dim/2) within a head.
__device__ __forceinline__ void rope_pair_index(int i, int half, int style, int& i0, int& i1) {
    if (style == kRopeInterleaved) {
        i0 = 2 * i;
        i1 = 2 * i + 1;
    } else {
        i0 = i;
        i1 = i + half;
    }
}

__device__ __forceinline__ void rope_rotate(float x0, float x1, float c, float s, float& y0, float& y1) {
    y0 = fmaf(x0, c, -(x1 * s));
    y1 = fmaf(x1, c, x0 * s);
}

// Rotates pair i of one head: reads from src, writes to dst (may be the same row).
template <typename T>
__device__ __forceinline__ void rope_pair(const T* src, T* dst, int i, int half, int style, float c,
                                          float s) {
    int i0, i1;
    rope_pair_index(i, half, style, i0, i1);
    float y0, y1;
    rope_rotate(load_f(src + i0), load_f(src + i1), c, s, y0, y1);
    store_f(dst + i0, y0);
    store_f(dst + i1, y1);
}

// Block-level: rotates every head of one token row in place, given the token's cos/sin.
template <typename T>
__device__ __forceinline__ void rope_row_inplace(T* row, int num_heads, int head_dim, int rotary_dim,
                                                 int style, const float* cs, const float* sn) {
    const int half = rotary_dim / 2;
    const int n = num_heads * half;
    for (int idx = threadIdx.x; idx < n; idx += blockDim.x) {
        const int h = idx / half;
        const int i = idx - h * half;
        T* r = row + (long long)h * head_dim;
        rope_pair(r, r, i, half, style, cs[i], sn[i]);
    }
}

template <typename T>
__device__ __forceinline__ void rope_tokens(T* x, const int* positions, int num_tokens, int num_heads,
                                            int head_dim, int rotary_dim, float theta, RopeScaling sc,
                                            int style) {
    __shared__ float inv_freq[kRopeMaxHalf];
    __shared__ float cs[kRopeMaxHalf];
    __shared__ float sn[kRopeMaxHalf];
    if (rotary_dim <= 0) return;  // uniform: every thread leaves, no barrier reached
    rope_fill_inv_freq(inv_freq, rotary_dim, theta, sc);
    for (int t = blockIdx.x; t < num_tokens; t += gridDim.x) {
        __syncthreads();  // inv_freq ready; the previous token is done with cs/sn
        rope_fill_cos_sin(cs, sn, inv_freq, rotary_dim, positions[t]);
        __syncthreads();
        rope_row_inplace(x + (long long)t * num_heads * head_dim, num_heads, head_dim, rotary_dim, style,
                         cs, sn);
    }
}

}  // namespace gatun
