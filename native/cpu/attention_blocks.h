// The register-block micro-kernels of the CPU flash tiles (attention_tiles.h) and the tile geometry
// they fix. A tile keeps its MQ queries along vector lanes, transposed:
//   St [nk][MQ] = K_blk . Qt   qk_block: broadcast K[j][d] (row layout, read in place), FMA with Qt[d][:];
//                              it also keeps each lane's running max
//   Ot [D][MQ] += V_blk^T . P  pv_block: broadcast V[j][d], FMA with P[j][:], after scaling Ot by alpha
// Each spreads an L2 prefetch of the next key block's rows over its register-block steps.
// Dp (bf16 inputs on cores with AVX-512 BF16, attention_tiles.h): the same blocks over 32-bit lanes
// that hold pairs of bf16, multiplied by vdpbf16ps (two products per lane, fp32 accumulation):
//   qk: Qt holds (Q[i][2e], Q[i][2e+1]) as lane i of row e, K rows are bf16 (pairs of d); the scores
//       are scaled once at the end (the bf16 queries are used as given)
//   pv: P holds (P[2m][i], P[2m+1][i]) as lane i of row m, V rows hold (V[2m][d], V[2m+1][d]) (pairs
//       of keys)
#ifndef GATUN_CPU_ATTENTION_BLOCKS_H
#define GATUN_CPU_ATTENTION_BLOCKS_H

#include <algorithm>
#include <type_traits>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

#ifndef GATUN_ATTN_QV
#ifdef GATUN_AVX512
#define GATUN_ATTN_QV 4   // query vectors per tile: MQ = 64
#define GATUN_ATTN_KR 6   // keys per QK register block (KR * QV = 24 accumulators of 32 zmm)
#define GATUN_ATTN_DR 6   // head-dim rows per PV register block
#else
#define GATUN_ATTN_QV 2   // MQ = 16; 12 accumulators + 2 Qt + a broadcast of 16 ymm
#define GATUN_ATTN_KR 6
#define GATUN_ATTN_DR 6
#endif
#endif
#ifndef GATUN_ATTN_NK
#define GATUN_ATTN_NK 64  // keys per block
#endif
constexpr int QV = GATUN_ATTN_QV, KR = GATUN_ATTN_KR, DR = GATUN_ATTN_DR, NK = GATUN_ATTN_NK;
constexpr int MQ = QV * W;

// Software prefetch spread over a loop: walks `rows` rows of `lines` cache lines (row r at
// row_at(r)), issuing a few line prefetches (into L2) per step so the misses overlap compute
// instead of stalling on full miss queues.
template <class RowAt>
struct RowsPrefetch {
  RowAt row_at;
  int rows = 0, lines = 0, r = 0, l = 0;
  inline __attribute__((always_inline)) void step(int n) {
    for (; n > 0 && r < rows; --n) {
      _mm_prefetch((const char*)row_at(r) + l * 64, _MM_HINT_T1);
      if (++l == lines) l = 0, ++r;
    }
  }
  int left() const { return r < rows ? (rows - r) * lines - l : 0; }
};
template <class RowAt>
RowsPrefetch(RowAt, int, int) -> RowsPrefetch<RowAt>;

// rows `stride` bytes apart: K/V rows of one head are Hkv*D apart, which the hardware prefetchers
// lose at every 4 KiB page
struct StridedRows {
  const char* base = nullptr;
  long long stride = 0;
  const char* operator()(int r) const { return base + r * stride; }
};
using Prefetch = RowsPrefetch<StridedRows>;

// ---------------------------------------------------------------- micro-kernels
// A 32-bit lane holding a pair of bf16 (Dp): its bits are only moved, never used as a float
typedef float __attribute__((may_alias)) bf16_pair;

// acc + a * b per lane: an fp32 FMA, or (Dp) acc + a.lo * b.lo + a.hi * b.hi over bf16 pairs
template <bool Dp>
VI vf mac(vf acc, vf a, vf b) {
#ifdef __AVX512BF16__
  if constexpr (Dp) return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
#else
  static_assert(!Dp, "the bf16 dot product needs AVX-512 BF16");
#endif
  return vfma(a, b, acc);
}

// NV: the tile's active query vectors (QV, or fewer for the last tile of a sequence); lanes past
// them are neither computed nor read.
// St[r][:] = sum_d K[r][d] * Qt[d][:] for r < R (Dp: d runs over pairs, and St is scaled by `scale`)
template <int R, int NV, bool Dp>
VI void qk_rows(const float* __restrict Qt, int D, const float* __restrict K, long long ldk, float* __restrict St,
                vf* mx, vf scale) {
  vf acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = vset1(0.f);
  const bf16_pair* kp[R];  // (may_alias: Dp's K rows are bf16)
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) kp[r] = (const bf16_pair*)K + r * ldk;
  for (int d = 0; d < D; ++d) {
    vf q[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) q[v] = load(F32{}, Qt + d * MQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(kp[r][d]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = mac<Dp>(acc[r][v], b, q[v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if constexpr (Dp) acc[r][v] = vmul(acc[r][v], scale);
      store(F32{}, St + r * MQ + v * W, acc[r][v]), mx[v] = vmax(mx[v], acc[r][v]);
    }
}

// register blocks of R rows for NV active vectors: KR * QV (or DR * QV) accumulators whatever NV
// (enough independent FMA chains), at most 12 rows (the remainder cases below)
constexpr int rows_for(int r, int nv) { return nv == QV ? r : std::min(12, r * QV / nv); }

template <int NV, bool Dp = false>
__attribute__((noinline)) void qk_block(const float* Qt, int D, const float* K, long long ldk, int nk, float* St,
                                        vf* mx, Prefetch& pf, vf scale = vset1(1.f)) {
  constexpr int R = rows_for(KR, NV);
  const int per = (pf.left() + (nk + R - 1) / R - 1) / ((nk + R - 1) / R);
  int j = 0;
  for (; j + R <= nk; j += R) {
    pf.step(per);
    qk_rows<R, NV, Dp>(Qt, D, K + j * ldk, ldk, St + j * MQ, mx, scale);
  }
  pf.step(pf.left());
  if constexpr (R > 1) {
    if (j < nk) {
      const int rem = nk - j;
      // remainder: one smaller register block (rem < R)
      switch (rem) {
#define QK_CASE(n) case n: if constexpr (n < R) qk_rows<n, NV, Dp>(Qt, D, K + j * ldk, ldk, St + j * MQ, mx, scale); break;
        QK_CASE(1) QK_CASE(2) QK_CASE(3) QK_CASE(4) QK_CASE(5) QK_CASE(6) QK_CASE(7) QK_CASE(8) QK_CASE(9)
        QK_CASE(10) QK_CASE(11)
#undef QK_CASE
        default: break;
      }
    }
  }
}

// Ot[d0 + r][:] = alpha * Ot[d0 + r][:] + sum_j V[j][d0 + r] * P[j][:] for r < R (Dp: j runs over pairs)
template <int R, int NV, bool Dp>
VI void pv_rows(const float* __restrict P, int nk, const float* __restrict V, long long ldv, int d0,
                float* __restrict Ot, const vf* alpha) {
  vf acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = vmul(load(F32{}, Ot + (d0 + r) * MQ + v * W), alpha[v]);
  const bf16_pair* vp = (const bf16_pair*)V + d0;
  for (int j = 0; j < nk; ++j, vp += ldv) {
    vf p[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) p[v] = load(F32{}, P + j * MQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(vp[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = mac<Dp>(acc[r][v], b, p[v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store(F32{}, Ot + (d0 + r) * MQ + v * W, acc[r][v]);
}

template <int NV, bool Dp = false>
__attribute__((noinline)) void pv_block(const float* P, int nk, const float* V, long long ldv, int D, float* Ot,
                                        const vf* alpha, Prefetch& pf) {
  constexpr int R = rows_for(DR, NV);
  const int steps = (D + R - 1) / R, per = (pf.left() + steps - 1) / steps;
  int d = 0;
  for (; d + R <= D; d += R) {
    pf.step(per);
    pv_rows<R, NV, Dp>(P, nk, V, ldv, d, Ot, alpha);
  }
  pf.step(pf.left());
  // D is a multiple of 8 and R is 6, 8 or 12, so the remainder is even and below 12
  switch (D - d) {
    case 0: break;
    case 2: pv_rows<2, NV, Dp>(P, nk, V, ldv, d, Ot, alpha); break;
    case 4: pv_rows<4, NV, Dp>(P, nk, V, ldv, d, Ot, alpha); break;
    case 6: pv_rows<6, NV, Dp>(P, nk, V, ldv, d, Ot, alpha); break;
    case 8: pv_rows<8, NV, Dp>(P, nk, V, ldv, d, Ot, alpha); break;
    case 10: pv_rows<10, NV, Dp>(P, nk, V, ldv, d, Ot, alpha); break;
    default:
      for (; d < D; ++d) pv_rows<1, NV, Dp>(P, nk, V, ldv, d, Ot, alpha);
  }
}

#ifdef __AVX512BF16__
// ---------------------------------------------------------------- bf16 pair operands (Dp)
// lane i = (bf16(lo[i]), bf16(hi[i])), rounded to nearest even
VI vf bf16_pairs(vf lo, vf hi) {
  // cvtne2ps puts lo in elements 0-15 and hi in 16-31; element 2i takes lo[i], 2i+1 hi[i]
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                         6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_castsi512_ps(_mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(hi, lo)));
}
// half `hi` (0: the low bf16, 1: the high one) of out[d] = row[d] for d < n (n a multiple of 8), the
// other half left as it is; row null: zeros
VI void store_bf16_pair_half(const uint16_t* row, int hi, bf16_pair* out, int n) {
  const __mmask32 halves = hi ? 0xAAAAAAAAu : 0x55555555u;
  for (int d = 0; d < n; d += W) {
    const bool whole = n - d >= W;
    __m512i w = row ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(whole ? (__mmask16)0xFFFF : tmask(n - d), row + d))
                    : _mm512_setzero_si512();
    if (hi) w = _mm512_slli_epi32(w, 16);
    _mm512_mask_storeu_epi16(out + d, halves & (whole ? 0xFFFFFFFFu : (1u << 2 * (n - d)) - 1), w);
  }
}
#else
// declared for the Dp branches of the tiles, which this build never instantiates
vf bf16_pairs(vf lo, vf hi);
void store_bf16_pair_half(const uint16_t* row, int hi, bf16_pair* out, int n);
#endif

// f(std::integral_constant<int, nv>) for the active vector count nv in 1 .. QV
template <class F>
VI void with_vectors(int nv, F&& f) {
  switch (nv) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: if constexpr (QV >= 2) f(std::integral_constant<int, 2>{}); break;
    case 3: if constexpr (QV >= 3) f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, QV>{}); break;
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
