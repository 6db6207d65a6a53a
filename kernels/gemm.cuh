// gemm.cuh — the projection GEMM of linear layers: Y[M,N] = X[M,K] · W[N,K]ᵀ (+ bias[N]).
//
// Layouts (all row-major, leading dimensions in elements): X [m, k] with row stride
// ldx >= k (activations), W [n, k] with row stride ldw >= k (nn.Linear weight layout),
// Y [m, n] with row stride ldy >= n, bias [n] or nullptr. Any m, n, k >= 1 (k == 0 gives
// Y = bias, or 0). Arithmetic: inputs converted exactly to fp32, products accumulated in
// fp32, bias added in fp32, one rounding to T when Y is written. Y must not overlap X, W
// or bias.
//
// Launch contract (entry points in gemm.cu; the Java side picks the variant):
//
//   entry point                           tile (BM x BN x BK)  block         dynamic smem
//   gatun_gemm_{f16,bf16}                 128 x 128 x 32       (256,1,1)     20480 bytes
//   gatun_gemm_{f16,bf16}_small            64 x  64 x 32       (128,1,1)     10240 bytes
//   gatun_gemm_f32                        128 x 128 x 16       (256,1,1)     16896 bytes
//   gatun_gemm_f32_small                   64 x  64 x 16       (256,1,1)      8704 bytes
//
//   grid = (ceil(n / BN), ceil(m / BM), 1)   (x walks N so that neighbouring blocks
//   share the same rows of X); so m <= 65535 * BM. All under 48 KB: no attribute needed.
//   The _small variants fill the GPU better when ceil(m/128) * ceil(n/128) is below the
//   number of SMs (decode-sized m). Every output element sums k in increasing order
//   (fp32: one fmaf per term; tensor cores: 16-wide MMAs in increasing k, inside an MMA
//   the hardware's order), so the two variants, the grid and the fiber order never
//   change a result on emu, and the fp32 path gives the same bits on a GPU.
//
// Tensor-core path (__half, __nv_bfloat16): nvcuda::wmma m16n16k16, fp32 accumulators.
// The block stages a BM x BK slice of X and a BN x BK slice of W in shared memory
// (row stride BK + 8 elements: 80 bytes, so every 16-row fragment starts 32-byte aligned
// and rows fall on different banks), zero-filled outside [m, n, k] so that edges and a
// k that is not a multiple of 16 need no special case in the MMA loop. Warps form a
// WARPS_M x WARPS_N grid; each owns a (BM/WARPS_M) x (BN/WARPS_N) tile of
// 16 x 16 accumulators: matrix_a = X slice (row_major), matrix_b = Wᵀ read straight from
// the W slice (col_major). The next k-slice is loaded from global memory into registers
// while the current one is multiplied (one shared-memory stage, register prefetch; plain
// loads, no cp.async). Global loads are 16-byte vectors when the row strides are
// multiples of 8 elements and the base pointers 16-byte aligned, else element loads;
// both fill the same zero-padded tile. Epilogue: each warp stores one accumulator at a
// time to a 16 x 16 fp32 scratch in shared memory, then each lane writes 8 consecutive
// outputs of one row (bias, conversion, bounds).
//
// fp32 path: SIMT FMA tiles, no tensor cores. 256 threads as a 16 x 16 grid; thread
// (ty, tx) computes rows ty + 16 i and columns tx + 16 j (i, j < BM/16, BN/16). X and W
// slices are staged transposed (k-major, row stride BM + 4 / BN + 4), zero-filled
// outside the problem. Per output element the sum runs over k in increasing order with
// one fmaf per term, so the result is the same on every device that has fmaf and does
// not depend on the grid or the fiber order.
#pragma once

#include "common.cuh"

namespace gatun {

constexpr int kGemmBK = 32;             // k-slice of the tensor-core path
constexpr int kGemmLds = kGemmBK + 8;   // its shared-memory row stride, elements
constexpr int kGemmBKf = 16;            // k-slice of the fp32 path

// Dynamic shared memory of each path, bytes.
template <int BM, int BN>
constexpr int kGemmTcSmem = (BM + BN) * kGemmLds * 2;
template <int BM, int BN>
constexpr int kGemmF32Smem = kGemmBKf * ((BM + 4) + (BN + 4)) * 4;

// 16-bit element bits <-> T (both __half and __nv_bfloat16 are 16-bit; zero bits are +0).
__device__ __forceinline__ unsigned short gemm_bits(__half v) { return __half_as_ushort(v); }
__device__ __forceinline__ unsigned short gemm_bits(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }
__device__ __forceinline__ void gemm_from_f(float v, __half* out) { *out = __float2half_rn(v); }
__device__ __forceinline__ void gemm_from_f(float v, __nv_bfloat16* out) { *out = __float2bfloat16_rn(v); }

// Eight consecutive 16-bit elements src[0..8) of one row, zero past `valid`
// (0 <= valid); a 16-byte load when vec and all eight are in range.
template <typename T>
__device__ __forceinline__ uint4 gemm_load8(const T* src, int valid, bool vec) {
    if (vec && valid >= 8) return *reinterpret_cast<const uint4*>(src);
    unsigned short h[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) h[e] = e < valid ? gemm_bits(src[e]) : (unsigned short)0;
    uint4 u;
    u.x = unsigned(h[0]) | (unsigned(h[1]) << 16);
    u.y = unsigned(h[2]) | (unsigned(h[3]) << 16);
    u.z = unsigned(h[4]) | (unsigned(h[5]) << 16);
    u.w = unsigned(h[6]) | (unsigned(h[7]) << 16);
    return u;
}

// ------------------------------------------------------------------ tensor cores
template <typename T, int BM, int BN, int WARPS_M, int WARPS_N>
__device__ __forceinline__ void gemm_tc(const T* __restrict__ x, const T* __restrict__ w,
                                        const T* __restrict__ bias, T* __restrict__ y, int m, int n,
                                        int k, int ldx, int ldw, int ldy) {
    using namespace nvcuda;
    constexpr int kThreads = WARPS_M * WARPS_N * kWarp;
    constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;  // warp tile
    constexpr int FM = WM / 16, FN = WN / 16;            // 16x16 accumulators per warp
    constexpr int kChunksRow = kGemmBK / 8;              // 16-byte chunks per staged row
    constexpr int CX = BM * kChunksRow / kThreads;       // chunks per thread per slice
    constexpr int CW = BN * kChunksRow / kThreads;
    static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile must be a multiple of 16x16");
    static_assert(CX * kThreads == BM * kChunksRow && CW * kThreads == BN * kChunksRow, "tile/threads");
    static_assert(WARPS_M * WARPS_N * 16 * 16 * 4 <= kGemmTcSmem<BM, BN>, "epilogue scratch");

    DYNAMIC_SMEM(T, smem);
    T* xs = smem;                  // [BM][kGemmLds]  (m, k)
    T* ws = smem + BM * kGemmLds;  // [BN][kGemmLds]  (n, k)

    const int tid = threadIdx.x;
    const int warp = tid / kWarp, lane = tid % kWarp;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
    const long long row0 = (long long)blockIdx.y * BM;
    const long long col0 = (long long)blockIdx.x * BN;
    const bool vec = ((ldx | ldw) % 8 == 0) && ((reinterpret_cast<unsigned long long>(x) |
                                                 reinterpret_cast<unsigned long long>(w)) % 16 == 0);

    uint4 xr[CX], wr[CW];
    auto load_slice = [&](int k0) {
#pragma unroll
        for (int i = 0; i < CX; ++i) {
            const int c = tid + i * kThreads;
            const long long r = row0 + c / kChunksRow;
            const int kc = k0 + (c % kChunksRow) * 8;
            const int valid = r < m ? min(max(k - kc, 0), 8) : 0;
            xr[i] = gemm_load8(x + (valid > 0 ? r * ldx + kc : 0), valid, vec);
        }
#pragma unroll
        for (int i = 0; i < CW; ++i) {
            const int c = tid + i * kThreads;
            const long long r = col0 + c / kChunksRow;
            const int kc = k0 + (c % kChunksRow) * 8;
            const int valid = r < n ? min(max(k - kc, 0), 8) : 0;
            wr[i] = gemm_load8(w + (valid > 0 ? r * ldw + kc : 0), valid, vec);
        }
    };
    auto store_slice = [&]() {
#pragma unroll
        for (int i = 0; i < CX; ++i) {
            const int c = tid + i * kThreads;
            *reinterpret_cast<uint4*>(xs + (c / kChunksRow) * kGemmLds + (c % kChunksRow) * 8) = xr[i];
        }
#pragma unroll
        for (int i = 0; i < CW; ++i) {
            const int c = tid + i * kThreads;
            *reinterpret_cast<uint4*>(ws + (c / kChunksRow) * kGemmLds + (c % kChunksRow) * 8) = wr[i];
        }
    };

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    const int slices = (k + kGemmBK - 1) / kGemmBK;
    if (slices > 0) load_slice(0);
    for (int s = 0; s < slices; ++s) {
        store_slice();
        __syncthreads();
        if (s + 1 < slices) load_slice((s + 1) * kGemmBK);  // in flight during the MMAs
#pragma unroll
        for (int kk = 0; kk < kGemmBK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[FM];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[FN];
#pragma unroll
            for (int i = 0; i < FM; ++i)
                wmma::load_matrix_sync(a[i], xs + (wm * WM + i * 16) * kGemmLds + kk, kGemmLds);
#pragma unroll
            for (int j = 0; j < FN; ++j)
                wmma::load_matrix_sync(b[j], ws + (wn * WN + j * 16) * kGemmLds + kk, kGemmLds);
#pragma unroll
            for (int i = 0; i < FM; ++i)
#pragma unroll
                for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();  // the slice is overwritten next
    }

    // Epilogue: the staging area is free (last barrier above, or never used when k == 0).
    float* scratch = reinterpret_cast<float*>(smem) + warp * 256;
    const bool vec_y = ldy % 8 == 0 && reinterpret_cast<unsigned long long>(y) % 16 == 0;
    const int r_in = lane / 2, c_in = (lane % 2) * 8;
#pragma unroll
    for (int i = 0; i < FM; ++i) {
#pragma unroll
        for (int j = 0; j < FN; ++j) {
            wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            const long long r = row0 + wm * WM + i * 16 + r_in;
            const long long c = col0 + wn * WN + j * 16 + c_in;
            if (r < m && c < n) {
                float v[8];
#pragma unroll
                for (int e = 0; e < 8; ++e) {
                    v[e] = scratch[r_in * 16 + c_in + e];
                    if (bias != nullptr && c + e < n) v[e] += load_f(bias + c + e);
                }
                T* out = y + r * ldy + c;
                if (vec_y && c + 8 <= n) {
                    unsigned short h[8];
#pragma unroll
                    for (int e = 0; e < 8; ++e) {
                        T t;
                        gemm_from_f(v[e], &t);
                        h[e] = gemm_bits(t);
                    }
                    uint4 u;
                    u.x = unsigned(h[0]) | (unsigned(h[1]) << 16);
                    u.y = unsigned(h[2]) | (unsigned(h[3]) << 16);
                    u.z = unsigned(h[4]) | (unsigned(h[5]) << 16);
                    u.w = unsigned(h[6]) | (unsigned(h[7]) << 16);
                    *reinterpret_cast<uint4*>(out) = u;
                } else {
#pragma unroll
                    for (int e = 0; e < 8; ++e)
                        if (c + e < n) gemm_from_f(v[e], out + e);
                }
            }
            __syncwarp();  // scratch is overwritten by the next store
        }
    }
}

// ------------------------------------------------------------------ fp32 SIMT
template <int BM, int BN>
__device__ __forceinline__ void gemm_f32(const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ bias, float* __restrict__ y, int m,
                                         int n, int k, int ldx, int ldw, int ldy) {
    constexpr int kThreads = 256;
    constexpr int TM = BM / 16, TN = BN / 16;
    constexpr int LX = BM + 4, LW = BN + 4;  // staged row strides (k-major)
    constexpr int EX = BM * kGemmBKf / kThreads, EW = BN * kGemmBKf / kThreads;
    static_assert(EX * kThreads == BM * kGemmBKf && EW * kThreads == BN * kGemmBKf, "tile/threads");

    DYNAMIC_SMEM(float, smem);
    float* xs = smem;                 // [kGemmBKf][LX]  (k, m)
    float* ws = smem + kGemmBKf * LX; // [kGemmBKf][LW]  (k, n)

    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const long long row0 = (long long)blockIdx.y * BM;
    const long long col0 = (long long)blockIdx.x * BN;

    float xr[EX], wr[EW];
    // Element c of a slice: row c / BK, k-offset c % BK: consecutive threads read
    // consecutive k of one row (coalesced 64-byte runs).
    auto load_slice = [&](int k0) {
#pragma unroll
        for (int i = 0; i < EX; ++i) {
            const int c = tid + i * kThreads;
            const long long r = row0 + c / kGemmBKf;
            const int kc = k0 + c % kGemmBKf;
            xr[i] = (r < m && kc < k) ? x[r * ldx + kc] : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < EW; ++i) {
            const int c = tid + i * kThreads;
            const long long r = col0 + c / kGemmBKf;
            const int kc = k0 + c % kGemmBKf;
            wr[i] = (r < n && kc < k) ? w[r * ldw + kc] : 0.0f;
        }
    };

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    const int slices = (k + kGemmBKf - 1) / kGemmBKf;
    if (slices > 0) load_slice(0);
    for (int s = 0; s < slices; ++s) {
#pragma unroll
        for (int i = 0; i < EX; ++i) {
            const int c = tid + i * kThreads;
            xs[(c % kGemmBKf) * LX + c / kGemmBKf] = xr[i];
        }
#pragma unroll
        for (int i = 0; i < EW; ++i) {
            const int c = tid + i * kThreads;
            ws[(c % kGemmBKf) * LW + c / kGemmBKf] = wr[i];
        }
        __syncthreads();
        if (s + 1 < slices) load_slice((s + 1) * kGemmBKf);
#pragma unroll 2
        for (int kk = 0; kk < kGemmBKf; ++kk) {
            float a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = xs[kk * LX + ty + 16 * i];
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = ws[kk * LW + tx + 16 * j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int j = 0; j < TN; ++j) {
        const long long c = col0 + tx + 16 * j;
        if (c >= n) continue;
        const float bj = bias != nullptr ? bias[c] : 0.0f;
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const long long r = row0 + ty + 16 * i;
            if (r < m) y[r * ldy + c] = acc[i][j] + bj;
        }
    }
}

}  // namespace gatun
