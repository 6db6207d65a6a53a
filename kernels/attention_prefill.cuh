// attention_prefill.cuh — flash attention prefill (FlashAttention-2 algorithm; fp32 on SIMT FMA,
// fp16/bf16 on tensor cores: attention_tile_mma.cuh):
// tiled over queries and keys, online softmax in fp32, the S×S score matrix is never
// materialised. Variable-length packed batches (cu_seqlens), GQA/MQA, causal
// (bottom-right aligned), sliding window, log-sum-exp output.
//
// ---- Launch contract (exact) ----------------------------------------------------------
//   kernel  gatun_attention_prefill_{f32,f16,bf16}_d{64,128}   (MAX_D = 64 or 128)
//   grid    (ceil(max_seqlen_q / 64), num_q_heads, batch)        kBlockM = 64 query rows
//   block   (128, 1, 1)                                          kThreads = 4 warps
//   dynamic shared memory, bytes (same for every dtype; the SIMT body's fp32 tiles, which the
//   tensor-core body's 16-bit tiles fit within):
//           4 * ((64 + 32) * (MAX_D + 4) + 32 * MAX_D + 64 * 36)
//           d64:  43,520 B  (below 48 KiB, no attribute needed)
//           d128: 76,288 B  (above 48 KiB: set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
//                            to 76288 before launching; sm_80 allows 163 KiB, sm_90 227 KiB)
//   max_seqlen_q must be >= every sequence's query length (cu_seqlens_q[b+1]-cu_seqlens_q[b]);
//   a larger value only adds blocks that exit at once.
//   head_dim: a multiple of 8, 8 <= head_dim <= MAX_D (72..128 use the d128 build).
//   num_q_heads % num_kv_heads == 0. q, k, v, out 16-byte aligned (element offsets of rows
//   are multiples of 8, so only the base pointers matter). lse may be null (not written).
//   Row strides are dense: q/out row (token) stride num_q_heads*head_dim, k/v row stride
//   num_kv_heads*head_dim, lse row stride num_q_heads.
//
// ---- Semantics --------------------------------------------------------------------------
//   Sequence b: queries q0 = cu_q[b] .. cu_q[b+1]-1 (len_q), keys k0 = cu_k[b] .. (len_k).
//   Query i (0-based in its sequence) may see key j iff j < len_k and
//     causal:          j <= i + (len_k - len_q)            (bottom-right aligned, FA >= 2.1)
//     window_left>=0:  j >= i + (len_k - len_q) - window_left
//   out[i] = softmax(scale * q_i·K^T) V; lse[i] = ln sum_j exp(scale * q_i·k_j) (natural log).
//   A row that sees no key gets out = 0 and lse = -inf.
//
// ---- Work split (the SIMT body; the tensor-core body's is in attention_tile_mma.cuh) -------
//   One block = 64 query rows of one (sequence, q head). Warp w owns rows 16w..16w+15; lane
//   = rg*8 + x (rg 0..3, x 0..7) owns the 4 rows 16w + 4i + rg (i < 4).
//   Per key tile of 32 keys (K and V staged in shared memory as fp32, coalesced 16-byte
//   global loads, zero-filled past len_k / head_dim):
//     S phase:  lane (rg,x) computes the 4×4 scores of its rows × keys x, x+8, x+16, x+24
//               from float4 shared loads (Q rows padded by 4 floats and K rows padded by 4:
//               both conflict-free); row max over the 8 lanes of a row group by xor
//               shuffles 1,2,4 (full mask, every lane calls).
//     P:        exp2 of (scaled scores − running max) into a per-warp P tile in shared
//               memory (row stride 36), __syncwarp, then
//     PV phase: lane (rg,x) accumulates its 4 rows × dims {4x + 32c .. +3 : c < MAX_D/32}
//               (float4 accumulators in registers: 64 floats at MAX_D 128).
//   The running row sum l is kept per lane (same max in every lane of a row group) and
//   reduced over the row group once at the end.
//   Key tiles: from floor(first visible key of the block's first row / 32)*32 to the last
//   key visible to the block's last row; tiles entirely outside are never visited (causal
//   does about half the work). Blocks whose first query row lies past len_q return before
//   any barrier (the condition depends only on blockIdx, so the whole block leaves).
//   A warp none of whose rows sees a key of a tile skips that tile's compute (a vote per tile).
//   The body (attention_tile_body) is shared with the paged prefill and the video kernels
//   (video_attention.cuh): a map object says where rows and keys live; the arithmetic is this.
//
// ---- Numerics / determinism ----------------------------------------------------------------
//   fp32 scores, softmax via exp2f with log2(e) folded into the scale, fp32 P·V accumulation;
//   the fp16/bf16 body rounds P to T before P·V (as FlashAttention does). Out rounded to T once
//   (round-to-nearest-even). For one row the sequence of operations
//   depends only on the row's position in its sequence, len_q, len_k, the flags and head_dim
//   (tile boundaries are multiples of 32 from key 0; a tile fully masked for a row leaves its
//   state bit-identical), so results are batch invariant and independent of thread order.
#pragma once

#include "common.cuh"

namespace gatun {
namespace prefill {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / kWarp;
constexpr int kBlockM = 64;                 // query rows per block
constexpr int kBlockN = 32;                 // keys per tile
constexpr int kRowsPerLane = 4;             // rows owned by one lane
constexpr int kKeysPerLane = kBlockN / 8;   // keys per lane in the S phase
constexpr int kPStride = kBlockN + 4;       // P tile row stride (floats)
static_assert(kWarps * 4 * kRowsPerLane == kBlockM, "tile shape");

template <int MAX_D>
__host__ __device__ constexpr int smem_bytes() {
    return 4 * ((kBlockM + kBlockN) * (MAX_D + 4) + kBlockN * MAX_D + kBlockM * kPStride);
}

// ---- 8 elements of T -> 8 floats (one or two 16-byte loads), 4 floats -> 4 elements of T ----
struct alignas(16) F32x8 { float4 a, b; };
struct alignas(16) H16x8 { __half2 h[4]; };
struct alignas(16) B16x8 { __nv_bfloat162 h[4]; };
struct alignas(8) H16x4 { __half2 h[2]; };
struct alignas(8) B16x4 { __nv_bfloat162 h[2]; };

__device__ __forceinline__ void load8(const float* p, float* o) {
    const F32x8 v = *reinterpret_cast<const F32x8*>(p);
    o[0] = v.a.x; o[1] = v.a.y; o[2] = v.a.z; o[3] = v.a.w;
    o[4] = v.b.x; o[5] = v.b.y; o[6] = v.b.z; o[7] = v.b.w;
}
__device__ __forceinline__ void load8(const __half* p, float* o) {
    const H16x8 v = *reinterpret_cast<const H16x8*>(p);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = __half22float2(v.h[i]);
        o[2 * i] = f.x;
        o[2 * i + 1] = f.y;
    }
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* o) {
    const B16x8 v = *reinterpret_cast<const B16x8*>(p);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(v.h[i]);
        o[2 * i] = f.x;
        o[2 * i + 1] = f.y;
    }
}

__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
__device__ __forceinline__ void store4(__half* p, float4 v) {
    H16x4 o;
    o.h[0] = __floats2half2_rn(v.x, v.y);
    o.h[1] = __floats2half2_rn(v.z, v.w);
    *reinterpret_cast<H16x4*>(p) = o;
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, float4 v) {
    B16x4 o;
    o.h[0] = __floats2bfloat162_rn(v.x, v.y);
    o.h[1] = __floats2bfloat162_rn(v.z, v.w);
    *reinterpret_cast<B16x4*>(p) = o;
}

__device__ __forceinline__ float4 f4(float x, float y, float z, float w) {
    float4 r;
    r.x = x; r.y = y; r.z = z; r.w = w;
    return r;
}

// Stages ROWS rows of MAX_D columns into dst (row stride dst_stride elements): row r from row(r),
// a pointer to its first element or nullptr. Null rows and columns >= head_dim become 0 (so that
// 0-probability keys never meet the NaN poison of fresh shared memory). Dst float: widened to
// fp32 (the SIMT body); Dst T (16-bit): copied as they are (the tensor-core body). Consecutive
// threads take consecutive 8-element chunks of a row: coalesced 16-byte loads where rows are
// contiguous.
template <int MAX_D, int ROWS, typename T, typename Dst, typename RowFn>
__device__ __forceinline__ void stage_rows(Dst* dst, int dst_stride, const RowFn& row, int head_dim) {
    constexpr int kChunks = MAX_D / 8;
    static_assert((ROWS * kChunks) % kThreads == 0, "stage_rows: chunks per thread");
#pragma unroll
    for (int it = 0; it < ROWS * kChunks / kThreads; ++it) {
        const int c = it * kThreads + static_cast<int>(threadIdx.x);
        const int r = c / kChunks;
        const int col = (c % kChunks) * 8;
        const T* src = row(r);
        const bool in = src != nullptr && col < head_dim;
        Dst* d = dst + r * dst_stride + col;
        if constexpr (sizeof(Dst) == sizeof(float)) {
            float v[8];
            if (in) {
                load8(src + col, v);
            } else {
#pragma unroll
                for (int e = 0; e < 8; ++e) v[e] = 0.0f;
            }
            *reinterpret_cast<float4*>(d) = f4(v[0], v[1], v[2], v[3]);
            *reinterpret_cast<float4*>(d + 4) = f4(v[4], v[5], v[6], v[7]);
        } else {
            uint4 w;
            w.x = w.y = w.z = w.w = 0u;
            if (in) w = *reinterpret_cast<const uint4*>(src + col);
            *reinterpret_cast<uint4*>(d) = w;
        }
    }
}

// ---- Maps: the only part that differs between the kernels built on this body ----------------
// A map (taken by value, in registers) says where a block's rows and keys live:
//   map.begin(head_dim)       set up from blockIdx; false: the whole block leaves (must depend
//                             on blockIdx only: it happens before any barrier)
//   map.n_lo, map.n_hi        the block's keys [n_lo, n_hi), n_lo a multiple of kBlockN
//   map.keys(r, lo, hi)       row r (0..kBlockM-1) sees keys lo..hi (none when hi < lo)
//   map.q_row(r), out_row(r)  row r's query / output (head applied), nullptr: not a row
//   map.lse_row(r)            its lse slot, nullptr: not written
//   map.k_row(n), v_row(n)    key n's K / V row (kv head applied), nullptr: zero
// Keys are "packed" positions: a map may place several sequences' keys in one key range, each
// behind a mask. The arithmetic of a row depends only on the keys it sees and their tile slots.
//
// Varlen packed batch (cu_seqlens): the gatun_attention_prefill_* kernels, with a K/V source
//   len_k = kv.begin(b); kv.bind(kvh, kv_row_stride, head_dim); kv.k_row(n), kv.v_row(n) (n < len_k)
// Contiguous packed varlen K/V (cu_seqlens_k).
template <typename T>
struct ContiguousKV {
    const T* k;
    const T* v;
    const int* cu_seqlens_k;
    int k_begin;
    long long row_stride;
    __device__ __forceinline__ int begin(int b) {
        k_begin = cu_seqlens_k[b];
        return cu_seqlens_k[b + 1] - k_begin;
    }
    __device__ __forceinline__ void bind(int kvh, long long kv_row_stride, int head_dim) {
        row_stride = kv_row_stride;
        const long long o = static_cast<long long>(k_begin) * kv_row_stride +
                            static_cast<long long>(kvh) * head_dim;
        k += o;
        v += o;
    }
    __device__ __forceinline__ const T* k_row(int n) const { return k + n * row_stride; }
    __device__ __forceinline__ const T* v_row(int n) const { return v + n * row_stride; }
};

template <typename T, typename KV>
struct VarlenMap {
    const T* q;
    T* out;
    float* lse;
    const int* cu_seqlens_q;
    KV kv;
    int num_q_heads, num_kv_heads, causal, window_left;
    // set by begin
    int h, q_begin, len_q, len_k, m0, off, n_lo, n_hi, head_dim;
    long long q_row_stride;

    __device__ __forceinline__ bool begin(int hd) {
        const int b = blockIdx.z;
        h = blockIdx.y;
        head_dim = hd;
        q_begin = cu_seqlens_q[b];
        len_q = cu_seqlens_q[b + 1] - q_begin;
        len_k = kv.begin(b);
        m0 = static_cast<int>(blockIdx.x) * kBlockM;
        if (m0 >= len_q) return false;
        off = len_k - len_q;  // query i's diagonal key is i + off
        const int m_last = min(m0 + kBlockM, len_q) - 1;
        // Keys any row of this block can see, n_lo rounded down to a tile start. 64-bit
        // intermediates: off may be negative and window_left as large as INT_MAX.
        n_hi = len_k;
        if (causal) {
            n_hi = static_cast<int>(
                min(static_cast<long long>(len_k), static_cast<long long>(m_last) + off + 1));
        }
        n_lo = 0;
        if (window_left >= 0) {
            n_lo = static_cast<int>(min(max(static_cast<long long>(m0) + off - window_left, 0LL),
                                        static_cast<long long>(len_k)));
        }
        n_lo = (n_lo / kBlockN) * kBlockN;
        q_row_stride = static_cast<long long>(num_q_heads) * head_dim;
        kv.bind(h / (num_q_heads / num_kv_heads), static_cast<long long>(num_kv_heads) * head_dim,
                head_dim);
        return true;
    }
    __device__ __forceinline__ void keys(int r, int& lo, int& hi) const {
        const int qi = m0 + r;
        const long long diag = static_cast<long long>(qi) + off;  // 64-bit: no overflow
        const long long last = static_cast<long long>(len_k) - 1;
        hi = qi >= len_q ? -1 : static_cast<int>(causal ? min(diag, last) : last);
        lo = window_left >= 0 ? static_cast<int>(max(diag - window_left, 0LL)) : 0;
    }
    __device__ __forceinline__ long long row_index(int r) const {
        return m0 + r < len_q ? static_cast<long long>(q_begin) + m0 + r : -1;
    }
    __device__ __forceinline__ const T* q_row(int r) const {
        const long long t = row_index(r);
        return t < 0 ? nullptr : q + t * q_row_stride + static_cast<long long>(h) * head_dim;
    }
    __device__ __forceinline__ T* out_row(int r) const {
        const long long t = row_index(r);
        return t < 0 ? nullptr : out + t * q_row_stride + static_cast<long long>(h) * head_dim;
    }
    __device__ __forceinline__ float* lse_row(int r) const {
        const long long t = row_index(r);
        return t < 0 || lse == nullptr ? nullptr : lse + t * num_q_heads + h;
    }
    __device__ __forceinline__ const T* k_row(int n) const { return n < len_k ? kv.k_row(n) : nullptr; }
    __device__ __forceinline__ const T* v_row(int n) const { return n < len_k ? kv.v_row(n) : nullptr; }
};

// The SIMT body (fp32 inputs): K and V staged as fp32, scores and P.V on fp32 FMAs.
template <typename T, int MAX_D, typename Map>
__device__ __forceinline__ void attention_tile_body_simt(Map map, int head_dim, float scale) {
    static_assert(MAX_D % 32 == 0, "MAX_D must be a multiple of 32");
    constexpr int kQStride = MAX_D + 4;   // Q and K rows: float4 reads conflict-free
    constexpr int kVStride = MAX_D;       // V rows: read contiguously
    constexpr int kDimChunks = MAX_D / 32;

    // Depends on blockIdx only: the whole block leaves, before any barrier.
    if (!map.begin(head_dim)) return;
    const int n_lo = map.n_lo;
    const int n_hi = map.n_hi;

    DYNAMIC_SMEM(float, smem);
    float* const q_s = smem;                          // [kBlockM][kQStride]
    float* const k_s = q_s + kBlockM * kQStride;      // [kBlockN][kQStride]
    float* const v_s = k_s + kBlockN * kQStride;      // [kBlockN][kVStride]
    float* const p_s = v_s + kBlockN * kVStride;      // [kBlockM][kPStride]

    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid / kWarp;
    const int lane = tid % kWarp;
    const int rg = lane >> 3;  // row group: rows 16*warp + 4*i + rg
    const int x = lane & 7;    // key slot in the S phase, dim slot in the PV phase

    stage_rows<MAX_D, kBlockM, T>(q_s, kQStride, [&](int r) { return map.q_row(r); }, head_dim);

    int row_local[kRowsPerLane];  // row within the block tile
    int key_lo[kRowsPerLane];     // the row sees keys key_lo..key_hi (empty when lo > hi)
    int key_hi[kRowsPerLane];
#pragma unroll
    for (int i = 0; i < kRowsPerLane; ++i) {
        row_local[i] = warp * 16 + 4 * i + rg;
        map.keys(row_local[i], key_lo[i], key_hi[i]);
    }

    const float scale_log2 = scale * 1.4426950408889634f;
    const float kNegInf = neg_inf();
    float m_run[kRowsPerLane];
    float l_run[kRowsPerLane];
    float4 acc[kRowsPerLane][kDimChunks];
#pragma unroll
    for (int i = 0; i < kRowsPerLane; ++i) {
        m_run[i] = kNegInf;
        l_run[i] = 0.0f;
#pragma unroll
        for (int c = 0; c < kDimChunks; ++c) acc[i][c] = f4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    const int n_chunks = (head_dim + 31) / 32;  // dim chunks in use (PV phase)

    for (int n0 = n_lo; n0 < n_hi; n0 += kBlockN) {
        __syncthreads();  // everyone is done with the previous K/V tile (and P rows)
        stage_rows<MAX_D, kBlockN, T>(k_s, kQStride, [&](int r) { return map.k_row(n0 + r); }, head_dim);
        stage_rows<MAX_D, kBlockN, T>(v_s, kVStride, [&](int r) { return map.v_row(n0 + r); }, head_dim);
        __syncthreads();  // Q (first time), K and V visible

        // A warp none of whose rows sees a key of this tile skips it: for such a row the tile
        // would leave m, l and acc bit-identical (alpha = 1 or 0 on zeros, p = 0), so skipping
        // changes no result. It is what makes packed short sequences cheap.
        bool sees = false;
#pragma unroll
        for (int i = 0; i < kRowsPerLane; ++i)
            sees = sees || (key_lo[i] <= key_hi[i] && key_lo[i] < n0 + kBlockN && key_hi[i] >= n0);
        if (!__any_sync(kFullMask, sees)) continue;

        // ---- S = Q K^T for 4 rows × 4 keys --------------------------------------------
        float s[kRowsPerLane][kKeysPerLane];
#pragma unroll
        for (int i = 0; i < kRowsPerLane; ++i)
#pragma unroll
            for (int j = 0; j < kKeysPerLane; ++j) s[i][j] = 0.0f;
#pragma unroll 2
        for (int d = 0; d < head_dim; d += 4) {
            float4 qv[kRowsPerLane];
            float4 kv[kKeysPerLane];
#pragma unroll
            for (int i = 0; i < kRowsPerLane; ++i)
                qv[i] = *reinterpret_cast<const float4*>(q_s + row_local[i] * kQStride + d);
#pragma unroll
            for (int j = 0; j < kKeysPerLane; ++j)
                kv[j] = *reinterpret_cast<const float4*>(k_s + (x + 8 * j) * kQStride + d);
#pragma unroll
            for (int i = 0; i < kRowsPerLane; ++i)
#pragma unroll
                for (int j = 0; j < kKeysPerLane; ++j) {
                    float a = s[i][j];
                    a = a + qv[i].x * kv[j].x;
                    a = a + qv[i].y * kv[j].y;
                    a = a + qv[i].z * kv[j].z;
                    a = a + qv[i].w * kv[j].w;
                    s[i][j] = a;
                }
        }

        // ---- mask, online softmax, P to shared memory -----------------------------------
#pragma unroll
        for (int i = 0; i < kRowsPerLane; ++i) {
            float mx = kNegInf;
#pragma unroll
            for (int j = 0; j < kKeysPerLane; ++j) {
                const int n = n0 + x + 8 * j;
                const bool ok = n >= key_lo[i] && n <= key_hi[i];
                s[i][j] = ok ? s[i][j] * scale_log2 : kNegInf;
                mx = fmaxf(mx, s[i][j]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
            mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 4));
            const float m_new = fmaxf(m_run[i], mx);
            // Nothing visible yet: subtract 0 so that exp2(-inf - m) is 0, not NaN.
            const float m_use = m_new == kNegInf ? 0.0f : m_new;
            const float alpha = exp2f(m_run[i] - m_use);
            m_run[i] = m_new;
            float psum = 0.0f;
#pragma unroll
            for (int j = 0; j < kKeysPerLane; ++j) {
                const float p = exp2f(s[i][j] - m_use);
                psum += p;
                p_s[row_local[i] * kPStride + x + 8 * j] = p;
            }
            l_run[i] = l_run[i] * alpha + psum;
#pragma unroll
            for (int c = 0; c < kDimChunks; ++c) {
                acc[i][c].x *= alpha;
                acc[i][c].y *= alpha;
                acc[i][c].z *= alpha;
                acc[i][c].w *= alpha;
            }
        }
        __syncwarp(kFullMask);  // P rows of this warp written by its lanes, read by its lanes

        // ---- O += P V ------------------------------------------------------------------
#pragma unroll 2
        for (int n = 0; n < kBlockN; n += 4) {
            float4 pv[kRowsPerLane];
#pragma unroll
            for (int i = 0; i < kRowsPerLane; ++i)
                pv[i] = *reinterpret_cast<const float4*>(p_s + row_local[i] * kPStride + n);
#pragma unroll
            for (int c = 0; c < kDimChunks; ++c) {
                if (c < n_chunks) {
                    const float* vp = v_s + n * kVStride + 4 * x + 32 * c;
                    const float4 v0 = *reinterpret_cast<const float4*>(vp);
                    const float4 v1 = *reinterpret_cast<const float4*>(vp + kVStride);
                    const float4 v2 = *reinterpret_cast<const float4*>(vp + 2 * kVStride);
                    const float4 v3 = *reinterpret_cast<const float4*>(vp + 3 * kVStride);
#pragma unroll
                    for (int i = 0; i < kRowsPerLane; ++i) {
                        float4 a = acc[i][c];
                        a.x = a.x + pv[i].x * v0.x;
                        a.y = a.y + pv[i].x * v0.y;
                        a.z = a.z + pv[i].x * v0.z;
                        a.w = a.w + pv[i].x * v0.w;
                        a.x = a.x + pv[i].y * v1.x;
                        a.y = a.y + pv[i].y * v1.y;
                        a.z = a.z + pv[i].y * v1.z;
                        a.w = a.w + pv[i].y * v1.w;
                        a.x = a.x + pv[i].z * v2.x;
                        a.y = a.y + pv[i].z * v2.y;
                        a.z = a.z + pv[i].z * v2.z;
                        a.w = a.w + pv[i].z * v2.w;
                        a.x = a.x + pv[i].w * v3.x;
                        a.y = a.y + pv[i].w * v3.y;
                        a.z = a.z + pv[i].w * v3.z;
                        a.w = a.w + pv[i].w * v3.w;
                        acc[i][c] = a;
                    }
                }
            }
        }
    }

    // ---- finish: row sums over the row group, normalise, store ----------------------------
#pragma unroll
    for (int i = 0; i < kRowsPerLane; ++i) {
        float l = l_run[i];
        l += __shfl_xor_sync(kFullMask, l, 1);
        l += __shfl_xor_sync(kFullMask, l, 2);
        l += __shfl_xor_sync(kFullMask, l, 4);
        T* const orow = map.out_row(row_local[i]);
        if (orow == nullptr) continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
        for (int c = 0; c < kDimChunks; ++c) {
            const int d = 4 * x + 32 * c;
            if (d < head_dim) {
                const float4 a = acc[i][c];
                store4(orow + d, f4(a.x * inv, a.y * inv, a.z * inv, a.w * inv));
            }
        }
        float* const lrow = map.lse_row(row_local[i]);
        if (lrow != nullptr && x == 0)
            *lrow = l > 0.0f ? (m_run[i] + log2f(l)) * 0.6931471805599453f : kNegInf;
    }
}

template <typename T, int MAX_D, typename Map>
__device__ __forceinline__ void attention_tile_body_mma(Map map, int head_dim, float scale);  // attention_tile_mma.cuh

// The tile body of every kernel built on this file (prefill, paged prefill, video attention):
// tensor cores for 16-bit inputs, the SIMT body for fp32 (whose tests promise fp32 accuracy).
template <typename T, int MAX_D, typename Map>
__device__ __forceinline__ void attention_tile_body(Map map, int head_dim, float scale) {
    if constexpr (sizeof(T) == 2) attention_tile_body_mma<T, MAX_D>(map, head_dim, scale);
    else attention_tile_body_simt<T, MAX_D>(map, head_dim, scale);
}

template <typename T, int MAX_D>
__device__ __forceinline__ void attention_prefill(const T* __restrict__ q, const T* __restrict__ k,
                                                  const T* __restrict__ v, T* __restrict__ out,
                                                  float* __restrict__ lse, const int* cu_seqlens_q,
                                                  const int* cu_seqlens_k, int num_q_heads,
                                                  int num_kv_heads, int head_dim, float scale,
                                                  int causal, int window_left) {
    VarlenMap<T, ContiguousKV<T>> map;
    map.q = q;
    map.out = out;
    map.lse = lse;
    map.cu_seqlens_q = cu_seqlens_q;
    map.kv.k = k;
    map.kv.v = v;
    map.kv.cu_seqlens_k = cu_seqlens_k;
    map.num_q_heads = num_q_heads;
    map.num_kv_heads = num_kv_heads;
    map.causal = causal;
    map.window_left = window_left;
    attention_tile_body<T, MAX_D>(map, head_dim, scale);
}

}  // namespace prefill
}  // namespace gatun

#include "attention_tile_mma.cuh"
