// Dot products of a few query rows against a few key rows, vector lanes over the head dim: the
// score blocks of the paged decode (attention_decode.cpp) and of short sequences
// (attention_short.h).
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
  for (; d + W <= D; d += W) at(d, std::false_type{});
  if (d < D) at(d, std::true_type{});
  float sums[W];
  store(F32{}, sums, hsum_lanes(acc));
#pragma GCC unroll 4
  for (int g = 0; g < GB; ++g) memcpy(S + g * lds, sums + g * NT, sizeof(float) * NT);
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
