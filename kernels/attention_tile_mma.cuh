// attention_tile_mma.cuh — the flash prefill tile body on tensor cores (nvcuda::wmma m16n16k16,
// fp32 accumulators), taken by attention_tile_body for __half and __nv_bfloat16; fp32 keeps the
// SIMT body. The same maps, block (64 query rows, 4 warps, 32-key tiles), grid and launch
// contract as attention_prefill.cuh, and no more dynamic shared memory than it declares.
//
// Warp w owns query rows 16w..16w+15 (one wmma row block). Per key tile:
//   S [16 x 32] = Q Kᵀ      matrix_a = the warp's Q rows (row_major), matrix_b = Kᵀ read
//                           straight from the staged K rows (col_major); head dims padded with
//                           zeros to whole 16-column blocks (72 -> 80), blocks past it skipped
//   softmax                 S goes through the warp's fp32 tile in shared memory; lane l takes
//                           row l/2, keys (l%2)*16 .. +15: mask, running max (one xor shuffle
//                           joins a row's two lanes), exp2, and P rounded to T into the warp's
//                           P tile (as FlashAttention's 16-bit kernels round P before P·V); the
//                           row sum l adds the unrounded fp32 p
//   O [16 x D] = alpha O + P V   O's accumulator fragments stay in registers. wmma leaves
//                           unspecified which element a lane's x[i] is, so the per-row rescale
//                           takes the row of x[i] from a fragment of the same type loaded once
//                           from a 16 x 16 matrix of row indices (fragments of one type share
//                           their element mapping: what element-wise fragment arithmetic
//                           relies on).
// Finish: O / l goes through the warp's fp32 tile to rows of T; lse as the SIMT body.
//
// Shared memory (strides keep every fragment pointer 32-byte aligned and each row a multiple
// of 16 bytes): Q [64][MAX_D + 8] T, K and V [32][MAX_D + 8] T, per warp an fp32 tile
// [16][MAX_D + 4], a P tile [16][40] T and 16 row factors: 41,216 B at MAX_D 64 and 73,984 B
// at 128, within the SIMT body's 43,520 / 76,288 that the launch gives.
//
// Numerics: products exact in fp32, sums in fp32 (inside an MMA in the tensor core's order);
// a row's arithmetic depends only on the keys it sees and their tile slots, as in the SIMT
// body, so the maps' bit-for-bit promises (prefill = paged prefill) hold on emu.
#pragma once

#include "attention_prefill.cuh"

namespace gatun {
namespace prefill {

// bytes of shared memory the body uses (16-bit T): Q, K, V; per warp the fp32, P and row-factor tiles
template <int MAX_D>
__host__ __device__ constexpr int mma_smem_bytes() {
    return 2 * (kBlockM + 2 * kBlockN) * (MAX_D + 8) +
           kWarps * (4 * 16 * (MAX_D + 4) + 2 * 16 * (kBlockN + 8) + 4 * 16);
}

template <typename T, int MAX_D, typename Map>
__device__ __forceinline__ void attention_tile_body_mma(Map map, int head_dim, float scale) {
    using namespace nvcuda;
    using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    static_assert(MAX_D % 16 == 0 && kBlockM == 16 * kWarps && kBlockN == 32, "tile shape");
    static_assert(mma_smem_bytes<MAX_D>() <= smem_bytes<MAX_D>(), "within the launch's shared memory");
    constexpr int kLdT = MAX_D + 8;     // Q, K, V rows (T)
    constexpr int kLdF = MAX_D + 4;     // the warp's fp32 tile
    constexpr int kLdP = kBlockN + 8;   // the warp's P tile (T)
    constexpr int kDimBlocks = MAX_D / 16;

    // Depends on blockIdx only: the whole block leaves, before any barrier.
    if (!map.begin(head_dim)) return;
    const int n_lo = map.n_lo;
    const int n_hi = map.n_hi;

    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid / kWarp;
    const int lane = tid % kWarp;
    DYNAMIC_SMEM(float, smem);
    T* const q_s = reinterpret_cast<T*>(smem);                             // [kBlockM][kLdT]
    T* const k_s = q_s + kBlockM * kLdT;                                   // [kBlockN][kLdT]
    T* const v_s = k_s + kBlockN * kLdT;                                   // [kBlockN][kLdT]
    float* const f_all = reinterpret_cast<float*>(v_s + kBlockN * kLdT);   // [kWarps][16][kLdF]
    T* const p_all = reinterpret_cast<T*>(f_all + kWarps * 16 * kLdF);     // [kWarps][16][kLdP]
    float* const r_all = reinterpret_cast<float*>(p_all + kWarps * 16 * kLdP);  // [kWarps][16]
    float* const f_s = f_all + warp * 16 * kLdF;  // this warp's fp32 tile: S, then O
    T* const p_s = p_all + warp * 16 * kLdP;      // this warp's P tile
    float* const row_factor = r_all + warp * 16;  // alpha, then 1 / l, of each row

    // the softmax's lane: row r of the warp's 16, keys c0 .. c0 + 15 of a tile
    const int r = lane / 2;
    const int c0 = (lane % 2) * 16;
    const int row_local = warp * 16 + r;
    int key_lo, key_hi;  // the row sees keys key_lo..key_hi (empty when lo > hi)
    map.keys(row_local, key_lo, key_hi);

    // row_of.x[i] = the row of element x[i] of every accumulator fragment
#pragma unroll
    for (int e = 0; e < 8; ++e) f_s[r * kLdF + (lane % 2) * 8 + e] = static_cast<float>(r);
    __syncwarp(kFullMask);
    Acc row_of;
    wmma::load_matrix_sync(row_of, f_s, kLdF, wmma::mem_row_major);

    stage_rows<MAX_D, kBlockM, T>(q_s, kLdT, [&](int i) { return map.q_row(i); }, head_dim);

    const int dim_blocks = (head_dim + 15) / 16;  // 16-column blocks in use
    const float scale_log2 = scale * 1.4426950408889634f;
    const float kNegInf = neg_inf();
    float m_run = kNegInf;
    float l_run = 0.0f;
    Acc o[kDimBlocks];
#pragma unroll
    for (int j = 0; j < kDimBlocks; ++j) wmma::fill_fragment(o[j], 0.0f);

    // o[j] *= row_factor[row] for the blocks in use
    auto scale_rows = [&]() {
#pragma unroll
        for (int j = 0; j < kDimBlocks; ++j)
            if (j < dim_blocks)
#pragma unroll
                for (int i = 0; i < o[j].num_elements; ++i) o[j].x[i] *= row_factor[static_cast<int>(row_of.x[i])];
    };

    for (int n0 = n_lo; n0 < n_hi; n0 += kBlockN) {
        __syncthreads();  // everyone is done with the previous K/V tile (and its P and S tiles)
        stage_rows<MAX_D, kBlockN, T>(k_s, kLdT, [&](int i) { return map.k_row(n0 + i); }, head_dim);
        stage_rows<MAX_D, kBlockN, T>(v_s, kLdT, [&](int i) { return map.v_row(n0 + i); }, head_dim);
        __syncthreads();  // Q (first time), K and V visible

        // A warp none of whose rows sees a key of this tile skips it (rows left bit-identical:
        // alpha 1, p 0), as in the SIMT body.
        const bool sees = key_lo <= key_hi && key_lo < n0 + kBlockN && key_hi >= n0;
        if (!__any_sync(kFullMask, sees)) continue;

        // ---- S = Q Kᵀ ----------------------------------------------------------------------
        Acc s[2];
        wmma::fill_fragment(s[0], 0.0f);
        wmma::fill_fragment(s[1], 0.0f);
#pragma unroll
        for (int kk = 0; kk < kDimBlocks; ++kk) {
            if (kk >= dim_blocks) break;
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa;
            wmma::load_matrix_sync(qa, q_s + warp * 16 * kLdT + kk * 16, kLdT);
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kb;
                wmma::load_matrix_sync(kb, k_s + j * 16 * kLdT + kk * 16, kLdT);
                wmma::mma_sync(s[j], qa, kb, s[j]);
            }
        }
        wmma::store_matrix_sync(f_s, s[0], kLdF, wmma::mem_row_major);
        wmma::store_matrix_sync(f_s + 16, s[1], kLdF, wmma::mem_row_major);
        __syncwarp(kFullMask);

        // ---- mask, online softmax, P (as T) to the warp's P tile ------------------------------
        float sv[16];
        float mx = kNegInf;
#pragma unroll
        for (int e = 0; e < 16; ++e) {
            const int n = n0 + c0 + e;
            sv[e] = n >= key_lo && n <= key_hi ? f_s[r * kLdF + c0 + e] * scale_log2 : kNegInf;
            mx = fmaxf(mx, sv[e]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
        const float m_new = fmaxf(m_run, mx);
        // Nothing visible yet: subtract 0 so that exp2(-inf - m) is 0, not NaN.
        const float m_use = m_new == kNegInf ? 0.0f : m_new;
        const float alpha = exp2f(m_run - m_use);
        m_run = m_new;
        float psum = 0.0f;
#pragma unroll
        for (int e = 0; e < 16; ++e) {
            const float p = exp2f(sv[e] - m_use);
            psum += p;
            store_f(p_s + r * kLdP + c0 + e, p);
        }
        psum += __shfl_xor_sync(kFullMask, psum, 1);
        l_run = l_run * alpha + psum;
        if (lane % 2 == 0) row_factor[r] = alpha;
        __syncwarp(kFullMask);

        // ---- O = alpha O + P V -------------------------------------------------------------
        scale_rows();
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
            wmma::load_matrix_sync(pa, p_s + kk * 16, kLdP);
#pragma unroll
            for (int j = 0; j < kDimBlocks; ++j) {
                if (j >= dim_blocks) break;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vb;
                wmma::load_matrix_sync(vb, v_s + kk * 16 * kLdT + j * 16, kLdT);
                wmma::mma_sync(o[j], pa, vb, o[j]);
            }
        }
    }

    // ---- finish: O / l through the warp's fp32 tile, rows of T, lse ---------------------------
    __syncwarp(kFullMask);  // every lane has read the last tile's row factors
    if (lane % 2 == 0) row_factor[r] = l_run > 0.0f ? 1.0f / l_run : 0.0f;
    __syncwarp(kFullMask);
    scale_rows();
#pragma unroll
    for (int j = 0; j < kDimBlocks; ++j)
        if (j < dim_blocks) wmma::store_matrix_sync(f_s + j * 16, o[j], kLdF, wmma::mem_row_major);
    __syncwarp(kFullMask);
    T* const orow = map.out_row(row_local);
    if (orow != nullptr) {
        for (int d = (lane % 2) * 8; d < head_dim; d += 16) {
            const float* a = f_s + r * kLdF + d;
            store4(orow + d, f4(a[0], a[1], a[2], a[3]));
            store4(orow + d + 4, f4(a[4], a[5], a[6], a[7]));
        }
    }
    float* const lrow = map.lse_row(row_local);
    if (lrow != nullptr && lane % 2 == 0)
        *lrow = l_run > 0.0f ? (m_run + log2f(l_run)) * 0.6931471805599453f : kNegInf;
}

}  // namespace prefill
}  // namespace gatun
