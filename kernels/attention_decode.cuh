// attention_decode.cuh — paged decode attention (one query token per sequence),
// split-KV in the FlashDecoding manner, plus the log-sum-exp merge of the splits.
//
// Tensors (contiguous; T in {float, __half, __nv_bfloat16}; all arithmetic fp32):
//   q            [batch, num_q_heads, head_dim] T
//   k/v_cache    [num_blocks, block_size, num_kv_heads, head_dim] T
//   block_tables [batch, max_blocks_per_seq] int32 (physical block ids, any order)
//   seq_lens     [batch] int32 (keys in the cache for that sequence; 0 allowed)
//   partial_out  [batch, num_q_heads, max_splits, head_dim] float
//   partial_lse  [batch, num_q_heads, max_splits] float (natural log)
//   out          [batch, num_q_heads, head_dim] T;  lse [batch, num_q_heads] float
// GQA: query head h reads kv head h / (num_q_heads / num_kv_heads).
// Keys j < seq_len - 1 - window_left are masked when window_left >= 0 (the query sits
// at position seq_len - 1); window_left < 0: no window.
//
// ---- kernel 1: gatun_attention_decode_{f32,f16,bf16}_d{64,128} ----------------------
// Split p of a sequence covers keys [p*split_size, (p+1)*split_size) — fixed by
// POSITION, never by load — so a sequence's result never depends on the batch.
// One CTA = (sequence b, kv head, chunk of up to kDecodeHeadsPerCta query heads of
// that kv head's GQA group, split p): K/V of the split are read ONCE for all those
// query heads (for GQA ratios <= 8, once per kv head).
//   grid  = (batch * num_kv_heads * ceil(G / kDecodeHeadsPerCta), max_splits, 1),
//           G = num_q_heads / num_kv_heads; gridDim.y = max_splits <= 65535.
//   block = (kDecodeThreads = 128, 1, 1) EXACTLY (the key-to-lane assignment and so
//           the summation order are tied to it); no dynamic shared memory;
//           static shared ~16.1 KiB (d128) / ~8.1 KiB (d64).
// Requires: num_q_heads % num_kv_heads == 0; head_dim % 8 == 0, 8 <= head_dim <= D
// (D = 64 or 128, the _dNN of the entry; use d64 when head_dim <= 64);
// block_size a power of two in [8, 256]; split_size a positive multiple of block_size;
// max_splits >= ceil(max seq_len / split_size) (splits p >= max_splits are never
// computed); seq_len <= max_blocks_per_seq * block_size; q, k_cache, v_cache 16-byte
// aligned (all vector loads are 16 bytes: head_dim*sizeof(T) is a multiple of 16 for
// every head_dim % 8 == 0 — rows stay aligned when the base pointers are).
// Writes EVERY (b, h, p < max_splits) of partial_out / partial_lse: an empty split
// (past seq_len, or wholly outside the window) gets zeros and -inf.
// Inside the CTA: a "group" of L = D*sizeof(T)/16 lanes owns one key at a time, each
// lane a 16-byte slice of the key (lanes past head_dim idle); a warp holds 32/L groups;
// group g of the 4 warps handles keys start + it*NG*KT + kt*NG + g (NG groups, KT keys
// in flight per group). Scores: q (in registers, pre-scaled by scale*log2 e) dotted with
// the slice, xor-butterfly over the group; online softmax per group in the log2
// domain; groups merged with xor butterflies inside a warp, then the 4 warps through
// shared memory in warp order. Fixed order everywhere: bits depend only on the data,
// the split position, head_dim and the template.
//
// ---- kernel 2: gatun_attention_merge_{f32,f16,bf16} ----------------------------------
// Row (b, h) merges splits p = 0, 1, ..., n-1 (n = min(ceil(seq_len/split_size),
// max_splits)) in that fixed order: M = max lse_p, w_p = exp(lse_p - M),
// out = sum w_p o_p / sum w_p, lse = M + log(sum w_p). seq_len == 0 (or every split
// masked) gives out = 0 and lse = -inf.
//   grid  = (any >= 1, 1, 1), rows (batch*num_q_heads) grid-strided (one CTA per row
//           is the natural choice); block = (B,1,1), B % 32 == 0, 32 <= B <= 1024,
//           threads stride over head_dim (B = 128 recommended; B >= head_dim means one
//           element per thread); no shared memory, no barriers.
//   The result does not depend on B or the grid (per-element fixed order).
#pragma once

#include "common.cuh"

namespace gatun {

constexpr int kDecodeThreads = 128;
constexpr int kDecodeWarps = kDecodeThreads / kWarp;
constexpr int kDecodeHeadsPerCta = 8;

// ---- 16-byte vectors ------------------------------------------------------------
template <typename T>
struct Vec16 {
    static constexpr int kN = 16 / int(sizeof(T));
};

__device__ __forceinline__ void unpack16(const uint4& u, float* f, const float*) {
    f[0] = __uint_as_float(u.x);
    f[1] = __uint_as_float(u.y);
    f[2] = __uint_as_float(u.z);
    f[3] = __uint_as_float(u.w);
}

__device__ __forceinline__ void unpack_word(unsigned w, float* f, const __half*) {
    f[0] = __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));
    f[1] = __half2float(__ushort_as_half((unsigned short)(w >> 16)));
}

__device__ __forceinline__ void unpack_word(unsigned w, float* f, const __nv_bfloat16*) {
    f[0] = __uint_as_float(w << 16);  // bf16 -> fp32 is exact: the high 16 bits
    f[1] = __uint_as_float(w & 0xffff0000u);
}

template <typename T>
__device__ __forceinline__ void unpack16(const uint4& u, float* f, const T* tag) {
    unpack_word(u.x, f + 0, tag);
    unpack_word(u.y, f + 2, tag);
    unpack_word(u.z, f + 4, tag);
    unpack_word(u.w, f + 6, tag);
}

template <typename T>
__device__ __forceinline__ uint4 load16(const T* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
}

// ---- kernel 1 ---------------------------------------------------------------------
template <typename T, int D, int KT>
__device__ __forceinline__ void attention_decode_split(
    const T* q, const T* k_cache, const T* v_cache, const int* block_tables, const int* seq_lens,
    float* partial_out, float* partial_lse, int batch, int num_q_heads, int num_kv_heads, int head_dim,
    int block_size, int max_blocks_per_seq, int split_size, int max_splits, float scale, int window_left) {
    constexpr int V = Vec16<T>::kN;          // elements per lane per key (16 bytes)
    constexpr int L = D / V;                 // lanes per key (group size)
    constexpr int KPW = kWarp / L;           // groups per warp
    constexpr int NG = kDecodeWarps * KPW;   // groups per CTA
    constexpr int H = kDecodeHeadsPerCta;
    static_assert(L >= 1 && L <= kWarp && kWarp % L == 0, "group size");
    constexpr float kLog2e = 1.4426950408889634f;

    __shared__ float sm_m[kDecodeWarps][H];
    __shared__ float sm_l[kDecodeWarps][H];
    __shared__ float sm_acc[kDecodeWarps][H][D];

    const int lane = threadIdx.x % kWarp;
    const int warp = threadIdx.x / kWarp;
    const int lg = lane % L;                 // lane within group
    const int gw = lane / L;                 // group within warp
    const int g = warp * KPW + gw;           // group within CTA
    const int d0 = lg * V;
    const bool lane_on = d0 < head_dim;

    const int group_size = num_q_heads / num_kv_heads;
    const int chunks = (group_size + H - 1) / H;
    int x = blockIdx.x;
    const int chunk = x % chunks;
    x /= chunks;
    const int kvh = x % num_kv_heads;
    const int b = x / num_kv_heads;
    const int split = blockIdx.y;
    const int h0 = kvh * group_size + chunk * H;  // first query head of this CTA
    const int nh = min(H, group_size - chunk * H);

    // Query slices, pre-scaled into the log2 domain.
    const float qs = scale * kLog2e;
    float qr[H][V];
#pragma unroll
    for (int i = 0; i < H; ++i) {
        if (lane_on && i < nh && b < batch) {
            float f[V];
            unpack16(load16(q + ((long long)b * num_q_heads + h0 + i) * head_dim + d0), f, q);
#pragma unroll
            for (int e = 0; e < V; ++e) qr[i][e] = f[e] * qs;
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) qr[i][e] = 0.0f;
        }
    }

    // Valid keys of this split: [lo, hi).
    const int seq_len = b < batch ? seq_lens[b] : 0;
    const long long start = (long long)split * split_size;
    long long lo = start;
    if (window_left >= 0) lo = max(lo, (long long)seq_len - 1 - window_left);
    const long long hi = min(start + split_size, (long long)seq_len);

    const float lowest = -3.402823466e38f;  // finite: exp2(lowest - lowest) = 1, not NaN
    float m[H], l[H], acc[H][V];
#pragma unroll
    for (int i = 0; i < H; ++i) {
        m[i] = lowest;
        l[i] = 0.0f;
#pragma unroll
        for (int e = 0; e < V; ++e) acc[i][e] = 0.0f;
    }

    const int log2_bs = __ffs(block_size) - 1;
    const int* bt = block_tables + (long long)(b < batch ? b : 0) * max_blocks_per_seq;
    const long long row_stride = (long long)num_kv_heads * head_dim;  // elements between slots
    const long long kv_off = (long long)kvh * head_dim + d0;
    constexpr int kStep = NG * KT;
    if (hi > lo) {
        const long long it0 = (lo - start) / kStep;
        const long long it1 = (hi - start + kStep - 1) / kStep;
        for (long long it = it0; it < it1; ++it) {  // uniform trip count for the whole CTA
            uint4 kv[KT], vv[KT];
            bool valid[KT];
#pragma unroll
            for (int kt = 0; kt < KT; ++kt) {
                const long long j = start + it * kStep + kt * NG + g;
                valid[kt] = j >= lo && j < hi;
                if (valid[kt] && lane_on) {
                    const int phys = __ldg(bt + (j >> log2_bs));
                    const long long slot = (long long)phys * block_size + (j & (block_size - 1));
                    const long long off = slot * row_stride + kv_off;
                    kv[kt] = load16(k_cache + off);
                    vv[kt] = load16(v_cache + off);
                } else {
                    kv[kt] = make_uint4(0u, 0u, 0u, 0u);
                    vv[kt] = make_uint4(0u, 0u, 0u, 0u);
                }
            }
            // Scores s[kt][i] (log2 domain), identical in every lane of the group.
            float s[KT][H];
#pragma unroll
            for (int kt = 0; kt < KT; ++kt) {
                float kf[V];
                unpack16(kv[kt], kf, k_cache);
#pragma unroll
                for (int i = 0; i < H; ++i) {
                    float d = 0.0f;
#pragma unroll
                    for (int e = 0; e < V; ++e) d = fmaf(qr[i][e], kf[e], d);
#pragma unroll
                    for (int o = L / 2; o > 0; o >>= 1) d += __shfl_xor_sync(kFullMask, d, o);
                    s[kt][i] = valid[kt] ? d : neg_inf();
                }
            }
            // Online softmax update, one rescale per KT keys.
            float vf[KT][V];
#pragma unroll
            for (int kt = 0; kt < KT; ++kt) unpack16(vv[kt], vf[kt], v_cache);
#pragma unroll
            for (int i = 0; i < H; ++i) {
                float mx = m[i];
#pragma unroll
                for (int kt = 0; kt < KT; ++kt) mx = fmaxf(mx, s[kt][i]);
                const float alpha = exp2f(m[i] - mx);
                m[i] = mx;
                float p[KT];
                float ps = 0.0f;
#pragma unroll
                for (int kt = 0; kt < KT; ++kt) {
                    p[kt] = exp2f(s[kt][i] - mx);
                    ps += p[kt];
                }
                l[i] = fmaf(l[i], alpha, ps);
#pragma unroll
                for (int e = 0; e < V; ++e) {
                    float a = acc[i][e] * alpha;
#pragma unroll
                    for (int kt = 0; kt < KT; ++kt) a = fmaf(p[kt], vf[kt][e], a);
                    acc[i][e] = a;
                }
            }
        }
    }

    // Merge the groups of a warp: xor butterfly over the group index bits (lanes with
    // the same lg); both partners compute the same bits (commutative max, +, *).
#pragma unroll
    for (int o = L; o < kWarp; o <<= 1) {
#pragma unroll
        for (int i = 0; i < H; ++i) {
            const float mo = __shfl_xor_sync(kFullMask, m[i], o);
            const float lo_ = __shfl_xor_sync(kFullMask, l[i], o);
            const float mx = fmaxf(m[i], mo);
            const float a = exp2f(m[i] - mx);
            const float ao = exp2f(mo - mx);
            l[i] = l[i] * a + lo_ * ao;
            m[i] = mx;
#pragma unroll
            for (int e = 0; e < V; ++e) {
                const float xo = __shfl_xor_sync(kFullMask, acc[i][e], o);
                acc[i][e] = acc[i][e] * a + xo * ao;
            }
        }
    }
    if (gw == 0) {
#pragma unroll
        for (int i = 0; i < H; ++i) {
            if (lane == 0) {
                sm_m[warp][i] = m[i];
                sm_l[warp][i] = l[i];
            }
            if (lane_on) {
#pragma unroll
                for (int e = 0; e < V; ++e) sm_acc[warp][i][d0 + e] = acc[i][e];
            }
        }
    }
    __syncthreads();

    // Merge the warps in warp order and write this split's partial result.
    if (b < batch) {
        const int n = nh * head_dim;
        for (int idx = threadIdx.x; idx < n; idx += kDecodeThreads) {
            const int i = idx / head_dim;
            const int d = idx - i * head_dim;
            float mx = sm_m[0][i];
#pragma unroll
            for (int w = 1; w < kDecodeWarps; ++w) mx = fmaxf(mx, sm_m[w][i]);
            float ls = 0.0f, o = 0.0f;
#pragma unroll
            for (int w = 0; w < kDecodeWarps; ++w) {
                const float a = exp2f(sm_m[w][i] - mx);
                ls = fmaf(sm_l[w][i], a, ls);
                o = fmaf(sm_acc[w][i][d], a, o);
            }
            const long long r = ((long long)b * num_q_heads + h0 + i) * max_splits + split;
            partial_out[r * head_dim + d] = ls > 0.0f ? o / ls : 0.0f;
            if (d == 0) partial_lse[r] = ls > 0.0f ? (mx + log2f(ls)) * 0.6931471805599453f : neg_inf();
        }
    }
}

// ---- kernel 2 ---------------------------------------------------------------------
template <typename T>
__device__ __forceinline__ void attention_merge_splits(const float* partial_out, const float* partial_lse,
                                                       T* out, float* lse, const int* seq_lens, int batch,
                                                       int num_q_heads, int head_dim, int split_size,
                                                       int max_splits) {
    const long long rows = (long long)batch * num_q_heads;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const int b = (int)(r / num_q_heads);
        const int seq_len = seq_lens[b];
        const int n = seq_len <= 0 ? 0 : min((seq_len + split_size - 1) / split_size, max_splits);
        const float* pl = partial_lse + r * max_splits;
        const float* po = partial_out + r * max_splits * head_dim;
        float mx = neg_inf();
        for (int p = 0; p < n; ++p) mx = fmaxf(mx, pl[p]);
        const bool any = mx != neg_inf();
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float ws = 0.0f, o = 0.0f;
            if (any) {
                for (int p = 0; p < n; ++p) {
                    const float w = __expf(pl[p] - mx);  // exp(-inf) = 0 for an empty split
                    ws += w;
                    o = fmaf(w, po[(long long)p * head_dim + d], o);
                }
            }
            store_f(out + r * head_dim + d, any ? o / ws : 0.0f);
            if (d == 0) lse[r] = any ? mx + logf(ws) : neg_inf();
        }
    }
}

}  // namespace gatun
