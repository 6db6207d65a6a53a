// Attention of a short sequence (at most kShortQ queries and NK keys) for one (sequence, head), the
// tiles' alternative for such items (attention_tiles.h): temporal video attention runs 13-16 frames
// per sequence, where an AVX-512 tile fills one of its four query vectors and feeds each K/V
// broadcast to one FMA. Here the lanes run over the head dim instead: each score block takes GB
// queries x W/GB keys (a load of either feeds several FMAs, the W dot products reduced by one
// tree), and P.V accumulates GB queries x kPvVectors vectors of d per V row (both from dots.h).
// Exact softmax (every key is in one block), no rescaling. Measured in a C harness (AVX-512, 2
// threads, fp32): temporal attention of Latte's shape 1.44-1.65 -> 1.21-1.36 ms, of CogVideoX's
// 0.26-0.31 -> 0.23-0.24 ms; equal on the AVX2 build, whose 16-query tiles are full. Q, K and V
// rows are copied into zero-padded whole-vector rows: Latte's d72 rows 1.15-1.38 -> 1.02-1.15 ms.
// A row's arithmetic depends only on its sequence, so prefill and video attention (which both
// route a sequence here by its lengths alone) stay equal bit for bit on the same sequence.
// Included by attention_tiles.h after the tiles (it uses their TileArgs, Item and key bounds).
#ifndef GATUN_CPU_ATTENTION_SHORT_H
#define GATUN_CPU_ATTENTION_SHORT_H

#include "dots.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr int kShortQ = 32;  // queries of a short sequence
constexpr int kShortGB = 4;  // queries per score / output block

// a sequence the short path takes (every query sees at most the NK keys of one block)
inline bool short_sequence(int len_q, int len_k) { return len_q <= kShortQ && len_k <= NK; }

// scratch floats: S [kShortQ][NK], Kb and Vb [NK][Dp], Q and O [kShortQ][Dp], Dp = D rounded up to W.
// Every row is padded with zeros to whole vectors, so the blocks read them with full loads only.
inline long long short_scratch(int D) {
  return (long long)kShortQ * NK + (2LL * NK + 2LL * kShortQ) * ((D + W - 1) / W * W);
}

// One short sequence's head: queries 0 .. len_q-1 of (it.seq, it.head)
template <class Dt, class Rows, class Src>
void run_short(const TileArgs& a, const Rows& rows, const Src& src, const Item& it) {
  using T = typename Dt::T;
  constexpr int GB = kShortGB, NT = W / GB;
  const int D = a.D, Dp = (D + W - 1) / W * W, h = it.head;
  const int len_q = rows.len_q(it.seq), len_k = src.len_k(it.seq), off = len_k - len_q;
  const int nq = (len_q + GB - 1) / GB * GB;  // queries padded to whole blocks (zero rows)
  const auto kv = src.template at<Dt>(it.seq, h / (a.hq / a.hkv));
  float* S = scratch(short_scratch(D));  // checked by the caller
  if (!S) return;
  float* Kb = S + kShortQ * NK;
  float* Vb = Kb + NK * Dp;
  float* Q = Vb + NK * Dp;
  float* O = Q + (long long)nq * Dp;
  constexpr int lds = NK;
  int lo, hi;
  visible_keys(len_k, len_q, 0, len_q, a.causal, a.window, &lo, &hi);
  const int n = std::max(0, hi - lo);
  for (int i = 0; i < nq; ++i) {
    float* q = Q + (long long)i * Dp;
    if (i < len_q) widen_row_padded<Dt, true>(rows.template q_row<T>(it.seq, h, i), q, D, a.scale);
    else
      for (int d = 0; d < Dp; d += W) store(F32{}, q + d, vset1(0.f));
  }
  // K and V rows are copied even where fp32 could be read in place: rows of a temporal sequence are
  // whole pages apart and would share L1 sets, and padded rows take no masked loads. Products past
  // D add exact zeros.
  if (n > 0) {
    kv.kv_padded(lo, hi, Kb, Vb, Dp);
    // scores, GB queries x NT keys at a time; past the last key the block repeats key n-1 (its
    // scores land in lanes the softmax masks)
    for (int i = 0; i < nq; i += GB)
      for (int t = 0; t < n; t += NT)
        dot_block<F32, GB>(Q + (long long)i * Dp, Dp, [&](int r) { return Kb + std::min(t + r, n - 1) * Dp; }, Dp,
                           S + i * lds + t, lds, [](int) {});
  }
  // softmax per query over its visible keys [jlo, jhi) (absolute key indices)
  float m[kShortQ], l[kShortQ];
  for (int i = 0; i < nq; ++i) {
    float* s = S + i * lds;
    const int jlo = a.window >= 0 ? std::max(lo, i + off - a.window) : lo;
    const int jhi = a.causal ? std::min(hi, i + off + 1) : hi;
    m[i] = -__builtin_inff();
    l[i] = 0.f;
    if (i >= len_q || jhi <= jlo) {
      for (int t = 0; t < n; ++t) s[t] = 0.f;
      continue;
    }
    vf mv = vset1(-__builtin_inff());
    for (int t = 0; t < n; t += W) {
      const vf jq = vadd(lane_index(), vset1((float)(lo + t)));
      vf sv = t + W <= n ? load(F32{}, s + t) : load_tail(F32{}, s + t, n - t, -__builtin_inff());
      sv = mask_lt(mask_lt(sv, jq, vset1((float)jlo)), vset1((float)(jhi - 1)), jq);
      store(F32{}, s + t, sv);
      mv = vmax(mv, sv);
    }
    m[i] = hmax(mv);
    vf sum = vset1(0.f);
    for (int t = 0; t < n; t += W) {
      const vf p = vexp(vsub(load(F32{}, s + t), vset1(m[i])));
      store(F32{}, s + t, p);
      sum = vadd(sum, p);
    }
    l[i] = hsum(sum);
  }
  // O = P.V, then out = O / l and lse = m + log(l) (-inf and zeros where no key is visible)
  for (int i = 0; i < nq; i += GB)
    pv_rows<F32, GB>(O + (long long)i * Dp, Dp, [&](int t) { return Vb + (long long)t * Dp; }, n, Dp, S + i * lds,
                     lds, nullptr, [](int) {});
  for (int i = 0; i < len_q; ++i) {
    const float inv = l[i] > 0.f ? 1.0f / l[i] : 0.f;
    float* o = O + (long long)i * Dp;
    for (int d = 0; d < Dp; d += W) store(F32{}, o + d, vmul(load(F32{}, o + d), vset1(inv)));
    narrow_row<Dt>(o, rows.template out_row<T>(it.seq, h, i), D);
    if (float* L = rows.lse_row(it.seq, h, i)) *L = l[i] > 0.f ? m[i] + logf(l[i]) : -__builtin_inff();
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
