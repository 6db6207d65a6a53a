// Dot products of a few query rows against a few key rows, and the probability-weighted sums of
// value rows, vector lanes over the head dim: the score and P.V blocks of the paged decode
// (attention_decode.cpp) and of short sequences (attention_short.h).
#ifndef GATUN_CPU_DOTS_H
#define GATUN_CPU_DOTS_H

#include <string.h>

#include <type_traits>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

// elements d .. d+W of a D-element row as fp32; Tail: the last, partial vector (D % W != 0), zero-filled
template <class Dt, bool Tail>
VI vf load_row(const typename Dt::T* r, int d, int D) {
  if constexpr (Tail) return load_tail(Dt{}, r + d, D - d, 0.f);
  else return load(Dt{}, r + d);
}

// the W sums of acc (product g * NT + t) times scale to S[g * lds + t]
template <int GB>
VI void store_sums(const vf* acc, float* S, int lds, float scale) {
  constexpr int NT = W / GB;
  float sums[W];
  store(F32{}, sums, vmul(hsum_lanes(acc), vset1(scale)));
#pragma GCC unroll 4
  for (int g = 0; g < GB; ++g) memcpy(S + g * lds, sums + g * NT, sizeof(float) * NT);
}

// S[g * lds + t] = q_g . row(t) for GB query rows (Dp apart, zero past D up to whole vectors) and
// NT = W / GB key rows (row(t): element 0 of a D-element row of Dt, widened in registers): W dot
// products with lanes over d, reduced together by one fixed tree per product. step(d) runs before
// each vector of d (the decode spreads its prefetches over these steps).
template <class Dt, int GB, class Row, class Step>
VI void dot_block(const float* q, int Dp, Row row, int D, float* S, int lds, Step step) {
  constexpr int NT = W / GB;
  vf acc[GB * NT];  // product g * NT + t
#pragma GCC unroll 16
  for (int i = 0; i < GB * NT; ++i) acc[i] = vset1(0.f);
  auto at = [&](int d, auto tail) {
    step(d);
    vf qv[GB];
#pragma GCC unroll 4
    for (int g = 0; g < GB; ++g) qv[g] = load(F32{}, q + g * Dp + d);
#pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const vf k = load_row<Dt, decltype(tail)::value>(row(t), d, D);
#pragma GCC unroll 4
      for (int g = 0; g < GB; ++g) acc[g * NT + t] = vfma(qv[g], k, acc[g * NT + t]);
    }
  };
  int d = 0;
  if constexpr (std::is_same_v<Dt, BF16>) {  // q in pair order (pair_order): its even elements, then its odd
    for (; d + 2 * W <= D; d += 2 * W) {
      step(d);
      step(d + W);
      vf qe[GB], qo[GB];
#pragma GCC unroll 4
      for (int g = 0; g < GB; ++g) qe[g] = load(F32{}, q + g * Dp + d), qo[g] = load(F32{}, q + g * Dp + d + W);
#pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        vf ke, ko;
        load_bf16_pairs(row(t) + d, ke, ko);
#pragma GCC unroll 4
        for (int g = 0; g < GB; ++g) acc[g * NT + t] = vfma(qo[g], ko, vfma(qe[g], ke, acc[g * NT + t]));
      }
    }
  }
  for (; d + W <= D; d += W) at(d, std::false_type{});
  if (d < D) at(d, std::true_type{});
  store_sums<GB>(acc, S, lds, 1.f);
}

#ifdef __AVX512BF16__
// the first n of 32 16-bit lanes (a row's elements left from its block of 32 on)
VI __mmask32 first_lanes32(int n) { return n >= 32 ? ~0u : (1u << n) - 1; }

// dot_block for bf16 queries and rows through vdpbf16ps (avx512_bf16): 2W products per instruction
// and no widening. Each bf16 product is exact in fp32, so a lane sums the same terms as two FMAs
// would (bf16 subnormals read as 0). On a Zen 4 core it issues as fast as an FMA (twice the
// products); on an Intel Xeon at half that rate (the same products as FMAs, less the widening).
// q: GB rows of bf16, Dq apart, zero past D up to whole 2W blocks; S = scale * q . row.
template <int GB, class Row, class Step>
VI void dot_block_bf16dp(const uint16_t* q, int Dq, Row row, int D, float* S, int lds, float scale, Step step) {
  constexpr int NT = W / GB;
  vf acc[GB * NT];
#pragma GCC unroll 16
  for (int i = 0; i < GB * NT; ++i) acc[i] = vset1(0.f);
  for (int d = 0; d < D; d += 2 * W) {
    step(d);
    if (d + W < D) step(d + W);
    const __mmask32 m = first_lanes32(D - d);  // the rows end at D
    __m512bh qv[GB];
#pragma GCC unroll 4
    for (int g = 0; g < GB; ++g) qv[g] = (__m512bh)_mm512_loadu_si512(q + g * Dq + d);
#pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const __m512bh k = (__m512bh)_mm512_maskz_loadu_epi16(m, row(t) + d);
#pragma GCC unroll 4
      for (int g = 0; g < GB; ++g) acc[g * NT + t] = _mm512_dpbf16_ps(acc[g * NT + t], qv[g], k);
    }
  }
  store_sums<GB>(acc, S, lds, scale);
}
#endif

#ifdef GATUN_AVX512
constexpr int kPvVectors = 4;  // 4 query rows x 4 vectors = 16 accumulators of 32 zmm
#else
constexpr int kPvVectors = 2;  // 8 accumulators of 16 ymm
#endif

// the P.V blocks' accumulators: NV vectors of GB output rows (ldo apart) from d0, scaled by alpha[g]
// (alpha == nullptr: from zero), and back
template <int GB, int NV>
VI void load_outputs(vf (&o)[GB][NV], const float* O, int ldo, int d0, const float* alpha) {
#pragma GCC unroll 8
  for (int g = 0; g < GB; ++g)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) o[g][v] = alpha ? vmul(load(F32{}, O + g * ldo + d0 + v * W), vset1(alpha[g])) : vset1(0.f);
}
template <int GB, int NV>
VI void store_outputs(const vf (&o)[GB][NV], float* O, int ldo, int d0) {
#pragma GCC unroll 8
  for (int g = 0; g < GB; ++g)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) store(F32{}, O + g * ldo + d0 + v * W, o[g][v]);
}

// O[g][d0 .. d0 + NV*W) = alpha[g] * O[g][d0 ..] + sum_t P[g * lds + t] * row(t)[d0 ..] for GB
// query rows (O rows Dp apart; alpha == nullptr: from zero) over n rows of Dt: NV*GB independent
// FMA chains, each element sums its rows in order. step(d0) runs before each row. bf16 with an even
// NV: O in pair order (see pair_order below).
template <class Dt, int GB, int NV, bool Tail, class Row, class Step>
VI void pv_part(float* O, int Dp, Row row, int n, int D, int d0, const float* P, int lds, const float* alpha,
                Step& step) {
  vf o[GB][NV];
  load_outputs(o, O, Dp, d0, alpha);
  for (int t = 0; t < n; ++t) {
    step(d0);
    vf x[NV];
    if constexpr (std::is_same_v<Dt, BF16> && NV % 2 == 0 && !Tail) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; v += 2) load_bf16_pairs(row(t) + d0 + v * W, x[v], x[v + 1]);
    } else {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) x[v] = load_row<Dt, Tail>(row(t), d0 + v * W, D);
    }
#pragma GCC unroll 8
    for (int g = 0; g < GB; ++g) {
      const vf pg = vset1(P[g * lds + t]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) o[g][v] = vfma(pg, x[v], o[g][v]);
    }
  }
  store_outputs(o, O, Dp, d0);
}

// pv_part over all of d: kPvVectors vectors at a time, then single vectors, then the D % W tail
template <class Dt, int GB, class Row, class Step>
VI void pv_rows(float* O, int Dp, Row row, int n, int D, const float* P, int lds, const float* alpha, Step step) {
  int d = 0;
  for (; d + kPvVectors * W <= D; d += kPvVectors * W) pv_part<Dt, GB, kPvVectors, false>(O, Dp, row, n, D, d, P, lds, alpha, step);
  for (; d + W <= D; d += W) pv_part<Dt, GB, 1, false>(O, Dp, row, n, D, d, P, lds, alpha, step);
  if (d < D) pv_part<Dt, GB, 1, true>(O, Dp, row, n, D, d, P, lds, alpha, step);
}

#ifdef __AVX512BF16__
// P.V for bf16 rows through vdpbf16ps, tokens in pairs: O[g] = alpha[g] * O[g] + sum_t P[g][t] * row(t)
// with the probabilities rounded to bf16 (as FlashAttention's bf16 kernels round P before their P.V
// product) and every sum in fp32; the last pair of an odd n takes row n-1 again with P = 0. The
// elements d0 .. d0 + 32*NB of GB rows of O (Dq apart, whole 32-element blocks). Two rows' blocks of
// 32 bf16 interleave (unpacklo/hi_epi16) into the pairs of d = 0-3, 8-11, 16-19, 24-27 and of the
// rest, so O keeps each block in that order (from_unpacked puts it back). P: GB rows ldp apart,
// zero from n up to even. step(d0) runs before each row.
template <int GB, int NB, class Row, class Step>
VI void pv_part_bf16dp(float* O, int Dq, Row row, int n, int D, int d0, const uint16_t* P, int ldp,
                       const float* alpha, Step& step) {
  vf o[GB][2 * NB];
  load_outputs(o, O, Dq, d0, alpha);
  __mmask32 m[NB];  // the rows end at D
  for (int k = 0; k < NB; ++k) m[k] = first_lanes32(D - d0 - 32 * k);
  for (int t = 0; t < n; t += 2) {
    step(d0);
    step(d0);
    const uint16_t *r0 = row(t), *r1 = row(t + 1 < n ? t + 1 : t);
#pragma GCC unroll 4
    for (int k = 0; k < NB; ++k) {
      const __m512i a = _mm512_maskz_loadu_epi16(m[k], r0 + d0 + 32 * k), b = _mm512_maskz_loadu_epi16(m[k], r1 + d0 + 32 * k);
      const __m512bh lo = (__m512bh)_mm512_unpacklo_epi16(a, b), hi = (__m512bh)_mm512_unpackhi_epi16(a, b);
#pragma GCC unroll 8
      for (int g = 0; g < GB; ++g) {
        uint32_t pair;
        memcpy(&pair, P + g * ldp + t, sizeof(pair));
        const __m512bh pg = (__m512bh)_mm512_set1_epi32((int)pair);
        o[g][2 * k] = _mm512_dpbf16_ps(o[g][2 * k], pg, lo);
        o[g][2 * k + 1] = _mm512_dpbf16_ps(o[g][2 * k + 1], pg, hi);
      }
    }
  }
  store_outputs(o, O, Dq, d0);
}

// pv_part_bf16dp over all of d: kPvVectors / 2 blocks at a time, then single blocks
template <int GB, class Row, class Step>
VI void pv_rows_bf16dp(float* O, int Dq, Row row, int n, int D, const uint16_t* P, int ldp, const float* alpha, Step step) {
  constexpr int NB = kPvVectors / 2;
  int d = 0;
  for (; d + 32 * NB <= D; d += 32 * NB) pv_part_bf16dp<GB, NB>(O, Dq, row, n, D, d, P, ldp, alpha, step);
  for (; d < D; d += 32) pv_part_bf16dp<GB, 1>(O, Dq, row, n, D, d, P, ldp, alpha, step);
}

// O of pv_rows_bf16dp (each 32-element block as unpacklo's d, then unpackhi's) in element order
VI void from_unpacked(const float* O, int D, float* out) {
  for (int d0 = 0; d0 < D; d0 += 32)
    for (int i = 0; i < 16; ++i) {
      const int lo = d0 + 8 * (i / 4) + i % 4;
      if (lo < D) out[lo] = O[d0 + i];
      if (lo + 4 < D) out[lo + 4] = O[d0 + 16 + i];
    }
}
#endif

// bf16 rows are widened 2W elements at a time as their even and odd halves (load_bf16_pairs: a shift
// and a mask, no shuffle; the paged decode with K/V in L3 10% faster on an Intel Xeon, equal from DRAM).
// So dot_block<BF16> takes q with each whole 2W-element block in that order (pair_order), and
// pv_rows<BF16> leaves the O elements of the blocks it takes kPvVectors vectors at a time in it
// (in_order writes such a row out in element order).
VI void pair_order(float* r, int D) {
  for (int d = 0; d + 2 * W <= D; d += 2 * W) {
    float t[2 * W];
    for (int j = 0; j < W; ++j) t[j] = r[d + 2 * j], t[W + j] = r[d + 2 * j + 1];
    memcpy(r + d, t, sizeof(t));
  }
}
VI void in_order(const float* O, int D, float* out) {
  int d = 0;
  for (const int end = D / (kPvVectors * W) * (kPvVectors * W); d < end; d += 2 * W)
    for (int j = 0; j < W; ++j) out[d + 2 * j] = O[d + j], out[d + 2 * j + 1] = O[d + W + j];
  memcpy(out + d, O + d, sizeof(float) * (D - d));
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
