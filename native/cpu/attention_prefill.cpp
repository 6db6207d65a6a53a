// Flash-attention prefill on the CPU (FlashAttention-2 schedule): a work item is up to kMaxSub tiles of
// MQ queries of one (sequence, head); it walks the visible key blocks once, with an online softmax per
// query, and never materialises the S x S score matrix.
//
// Layout trick: each tile works transposed, with its MQ queries along vector lanes.
//   Qt [D][MQ]  = scale * Q tile, transposed once per tile (zero in lanes past the tile)
//   St [nk][MQ] = K_blk . Qt      micro-kernel: broadcast K[j][d] (native row layout), FMA with Qt[d][:]
//   Ot [D][MQ] += V_blkᵀ . St     micro-kernel: broadcast V[j][d], FMA with P[j][:]
// so K needs no transpose (fp32 is read in place; fp16/bf16 blocks are widened into a small fp32
// buffer), V blocks are copied into contiguous fp32 rows (cache rows Hkv*D apart alias in L1), and the
// softmax max/sum over keys are vertical vector ops per query lane: no horizontal reductions.
// The sub-tiles of an item share each K/V block while it is in cache, and the next block is
// prefetched into L2 during the current one (rows 4 KiB apart defeat the hardware prefetchers).
// Each query lane's arithmetic is independent of the other lanes and of the tiling: key blocks are
// aligned to absolute multiples of NK, and keys a row cannot see contribute exact zeros (p = 0,
// alpha = 1), so a row's result depends only on its sequence, never on the batch, the tile or item it
// landed in, or the thread count. Fully masked (tile, block) pairs are skipped.
#include <math.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

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
#ifndef GATUN_ATTN_PACK32
#define GATUN_ATTN_PACK32 0  // 1: copy fp32 K/V blocks into a contiguous buffer too (measured: no gain)
#endif
constexpr int QV = GATUN_ATTN_QV, KR = GATUN_ATTN_KR, DR = GATUN_ATTN_DR, NK = GATUN_ATTN_NK;
constexpr int MQ = QV * W;
constexpr int kMaxHeadDim = 256;

// Software prefetch spread over a loop: walks `rows` rows of `row_bytes` bytes, `stride` bytes apart,
// issuing a few cache-line prefetches (into L2) per step so the misses overlap compute instead of
// stalling on full miss queues. K/V rows of one head are Hkv*D apart: the hardware prefetchers lose
// them at every 4 KiB page.
struct Prefetch {
  const char* base = nullptr;
  long long stride = 0;
  int rows = 0, lines = 0, r = 0, l = 0;
  void set(const void* p, long long stride_bytes, int nrows, int row_bytes) {
    base = (const char*)p;
    stride = stride_bytes;
    rows = nrows;
    lines = (row_bytes + 63) / 64;
    r = l = 0;
  }
  inline __attribute__((always_inline)) void step(int n) {
    for (; n > 0 && r < rows; --n) {
      _mm_prefetch(base + r * stride + l * 64, _MM_HINT_T1);
      if (++l == lines) l = 0, ++r;
    }
  }
  int left() const { return r < rows ? (rows - r) * lines - l : 0; }
};

// ---------------------------------------------------------------- micro-kernels
// St[r][:] = sum_d K[r][d] * Qt[d][:] for r < R
template <int R>
VI void qk_rows(const float* __restrict Qt, int D, const float* __restrict K, long long ldk, float* __restrict St) {
  vf acc[R][QV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) acc[r][v] = vset1(0.f);
  const float* kp[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) kp[r] = K + r * ldk;
  for (int d = 0; d < D; ++d) {
    vf q[QV];
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) q[v] = load(F32{}, Qt + d * MQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(kp[r][d]);
#pragma GCC unroll 4
      for (int v = 0; v < QV; ++v) acc[r][v] = vfma(b, q[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) store(F32{}, St + r * MQ + v * W, acc[r][v]);
}

template <int R>
__attribute__((noinline)) void qk_block(const float* Qt, int D, const float* K, long long ldk, int nk, float* St,
                                        Prefetch& pf) {
  const int per = (pf.left() + (nk + R - 1) / R - 1) / ((nk + R - 1) / R);
  int j = 0;
  for (; j + R <= nk; j += R) {
    pf.step(per);
    qk_rows<R>(Qt, D, K + j * ldk, ldk, St + j * MQ);
  }
  pf.step(pf.left());
  if constexpr (R > 1) {
    if (j < nk) {
      const int rem = nk - j;
      // remainder: one smaller register block (rem < R)
      switch (rem) {
#define QK_CASE(n) case n: if constexpr (n < R) qk_rows<n>(Qt, D, K + j * ldk, ldk, St + j * MQ); break;
        QK_CASE(1) QK_CASE(2) QK_CASE(3) QK_CASE(4) QK_CASE(5) QK_CASE(6) QK_CASE(7) QK_CASE(8) QK_CASE(9)
        QK_CASE(10) QK_CASE(11)
#undef QK_CASE
        default: break;
      }
    }
  }
}

// Ot[d0 + r][:] = alpha * Ot[d0 + r][:] + sum_j V[j][d0 + r] * P[j][:] for r < R
template <int R>
VI void pv_rows(const float* __restrict P, int nk, const float* __restrict V, long long ldv, int d0,
                float* __restrict Ot, const vf* alpha) {
  vf acc[R][QV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) acc[r][v] = vmul(load(F32{}, Ot + (d0 + r) * MQ + v * W), alpha[v]);
  const float* vp = V + d0;
  for (int j = 0; j < nk; ++j, vp += ldv) {
    vf p[QV];
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) p[v] = load(F32{}, P + j * MQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(vp[r]);
#pragma GCC unroll 4
      for (int v = 0; v < QV; ++v) acc[r][v] = vfma(b, p[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) store(F32{}, Ot + (d0 + r) * MQ + v * W, acc[r][v]);
}

__attribute__((noinline)) void pv_block(const float* P, int nk, const float* V, long long ldv, int D, float* Ot,
                                        const vf* alpha, Prefetch& pf) {
  const int steps = (D + DR - 1) / DR, per = (pf.left() + steps - 1) / steps;
  int d = 0;
  for (; d + DR <= D; d += DR) {
    pf.step(per);
    pv_rows<DR>(P, nk, V, ldv, d, Ot, alpha);
  }
  pf.step(pf.left());
  // D is a multiple of 8, so the remainder is even
  switch (D - d) {
    case 0: break;
    case 2: pv_rows<2>(P, nk, V, ldv, d, Ot, alpha); break;
    case 4: pv_rows<4>(P, nk, V, ldv, d, Ot, alpha); break;
    case 6: pv_rows<6>(P, nk, V, ldv, d, Ot, alpha); break;
    case 8: pv_rows<8>(P, nk, V, ldv, d, Ot, alpha); break;
    case 10: pv_rows<10>(P, nk, V, ldv, d, Ot, alpha); break;
    default:
      for (; d < D; ++d) pv_rows<1>(P, nk, V, ldv, d, Ot, alpha);
  }
}

// lanes where `a < b` get -inf
VI vf mask_lt(vf x, vf a, vf b) {
#ifdef GATUN_AVX512
  return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), vset1(-__builtin_inff()));
#else
  return _mm256_blendv_ps(x, vset1(-__builtin_inff()), _mm256_cmp_ps(a, b, _CMP_LT_OQ));
#endif
}
// x, or 0 where x == -inf
VI vf finite_or_zero(vf x) {
#ifdef GATUN_AVX512
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, vset1(-__builtin_inff()), _CMP_NEQ_OQ), x);
#else
  return _mm256_and_ps(x, _mm256_cmp_ps(x, vset1(-__builtin_inff()), _CMP_NEQ_OQ));
#endif
}
VI vf lane_index() {
#ifdef GATUN_AVX512
  return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
  return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
#endif
}

// widen n elements to fp32 (n a multiple of 8)
template <class D>
VI void widen_row(const typename D::T* src, float* dst, int n) {
  int i = 0;
  for (; i + W <= n; i += W) store(F32{}, dst + i, load(D{}, src + i));
  if (i < n) store_tail(F32{}, dst + i, load_tail(D{}, src + i, n - i, 0.f), n - i);
}

// ---------------------------------------------------------------- work items
constexpr int kMaxSub = 4;  // query sub-tiles of MQ rows that share each K/V block

struct Item {
  int seq, head, q0;  // q0: first query of the tile within the sequence
  int nsub;           // sub-tiles of MQ queries: rows q0 .. q0 + nsub*MQ - 1
  long long cost;
};

long long prefill_scratch(int D, int nsub) {
  return (long long)NK * MQ + kMaxHeadDim + 2LL * NK * D + 2LL * nsub * D * MQ;
}

struct Args {
  const void *q, *k, *v;
  void* out;
  float* lse;
  const int *cu_q, *cu_k;
  int hq, hkv, D;
  float scale;
  int causal, window;
};

template <class Dt>
void run_tile(const Args& a, const Item& it) {
  using T = typename Dt::T;
  constexpr bool kDirectK = sizeof(T) == 4 && !GATUN_ATTN_PACK32;
  const int D = a.D;
  const int qs = a.cu_q[it.seq], len_q = a.cu_q[it.seq + 1] - qs;
  const int ks = a.cu_k[it.seq], len_k = a.cu_k[it.seq + 1] - ks;
  const int off = len_k - len_q, wl = a.window;
  const int h = it.head, kvh = h / (a.hq / a.hkv);
  const long long ldq = (long long)a.hq * D, ldk = (long long)a.hkv * D;
  const T* K = (const T*)a.k + (long long)ks * ldk + (long long)kvh * D;
  const T* V = (const T*)a.v + (long long)ks * ldk + (long long)kvh * D;
  const int nsub = std::min(it.nsub, (len_q - it.q0 + MQ - 1) / MQ);

  // scratch: per sub-tile Qt, Ot [D][MQ]; St [NK][MQ]; row [kMaxHeadDim]; Kb, Vb [NK][D]
  float* buf = scratch(prefill_scratch(D, nsub));
  if (!buf) return;  // the caller checked the same size first
  float* St = buf;
  float* row = St + NK * MQ;
  float* Kb = row + kMaxHeadDim;
  float* Vb = Kb + NK * D;
  float* tiles = Vb + NK * D;  // sub-tile s: Qt at tiles + 2*s*D*MQ, Ot right after

  const float ninf = -__builtin_inff();
  vf m[kMaxSub][QV], l[kMaxSub][QV], qi[kMaxSub][QV];
  int i0s[kMaxSub], mqs[kMaxSub], los[kMaxSub], his[kMaxSub];
  int lo = len_k, hi = 0;
  for (int sb = 0; sb < nsub; ++sb) {
    const int i0 = it.q0 + sb * MQ, mq = std::min(MQ, len_q - i0);
    i0s[sb] = i0;
    mqs[sb] = mq;
    // visible keys of the sub-tile: [j_lo, j_hi)
    his[sb] = a.causal ? std::max(0, std::min(len_k, i0 + mq + off)) : len_k;
    los[sb] = wl >= 0 ? std::min(len_k, std::max(0, i0 + off - wl)) : 0;
    if (his[sb] > los[sb]) lo = std::min(lo, los[sb]), hi = std::max(hi, his[sb]);
    float* Qt = tiles + 2LL * sb * D * MQ;
    float* Ot = Qt + D * MQ;
    const T* Q = (const T*)a.q + (long long)(qs + i0) * ldq + (long long)h * D;
    // Qt = scale * Q tile, transposed; lanes past the tile are 0
    for (int i = 0; i < MQ; ++i) {
      if (i < mq) {
        widen_row<Dt>(Q + i * ldq, row, D);
        for (int d = 0; d < D; ++d) Qt[d * MQ + i] = row[d] * a.scale;
      } else {
        for (int d = 0; d < D; ++d) Qt[d * MQ + i] = 0.f;
      }
    }
    for (int x = 0; x < D * MQ; x += W) store(F32{}, Ot + x, vset1(0.f));
    for (int v = 0; v < QV; ++v) {
      m[sb][v] = vset1(ninf);
      l[sb][v] = vset1(0.f);
      qi[sb][v] = vadd(lane_index(), vset1((float)(i0 + v * W)));  // query index of each lane
    }
  }

  // key blocks aligned to absolute multiples of NK; every sub-tile that sees part of a block uses
  // the same K/V block while it is in cache
  for (int b = lo / NK * NK; b < hi; b += NK) {
    const int ub = std::max(b, lo), ue = std::min(b + NK, hi);  // union of the sub-tiles' ranges
    if (ue <= ub) continue;
    const float* Kp;
    long long ldkp;
    if constexpr (kDirectK) {
      Kp = (const float*)(K + ub * ldk);
      ldkp = ldk;
    } else {
      for (int j = ub; j < ue; ++j) widen_row<Dt>(K + j * ldk, Kb + (j - ub) * D, D);
      Kp = Kb;
      ldkp = D;
    }
    // V rows Hkv*D apart (often 4 KiB) would all land in the same L1 sets during P.V: copy them
    for (int j = ub; j < ue; ++j) widen_row<Dt>(V + j * ldk, Vb + (j - ub) * D, D);

    // the next block's K and V rows go to L2 while this block computes (spread over the first
    // sub-tile's QK and PV loops)
    const int nb0 = std::min(b + NK, hi), nb1 = std::min(b + 2 * NK, hi);
    Prefetch pfk, pfv;
    if (nb1 > nb0) {
      pfk.set(K + nb0 * ldk, ldk * (long long)sizeof(T), nb1 - nb0, D * (int)sizeof(T));
      pfv.set(V + nb0 * ldk, ldk * (long long)sizeof(T), nb1 - nb0, D * (int)sizeof(T));
    }
    for (int sb = 0; sb < nsub; ++sb) {
      const int jb = std::max(b, los[sb]), je = std::min(b + NK, his[sb]), nk = je - jb;
      if (nk <= 0) continue;
      const int i0 = i0s[sb], mq = mqs[sb];
      float* Qt = tiles + 2LL * sb * D * MQ;
      float* Ot = Qt + D * MQ;
      qk_block<KR>(Qt, D, Kp + (jb - ub) * ldkp, ldkp, nk, St, pfk);

      // masks: causal j > i + off; window j < i + off - wl
      const bool mask_hi = a.causal && (je - 1 > i0 + off);
      const bool mask_lo = wl >= 0 && (jb < i0 + mq - 1 + off - wl);
      if (mask_hi || mask_lo) {
        for (int j = 0; j < nk; ++j) {
          const vf jq = vset1((float)(jb + j - off));  // row i sees j iff jq <= i (causal), i <= jq + wl (window)
          for (int v = 0; v < QV; ++v) {
            vf sv = load(F32{}, St + j * MQ + v * W);
            if (mask_hi) sv = mask_lt(sv, qi[sb][v], jq);
            if (mask_lo) sv = mask_lt(sv, vadd(jq, vset1((float)wl)), qi[sb][v]);
            store(F32{}, St + j * MQ + v * W, sv);
          }
        }
      }

      // online softmax per query lane
      vf alpha[QV];
      for (int v = 0; v < QV; ++v) {
        vf mx = m[sb][v];
        for (int j = 0; j < nk; ++j) mx = vmax(mx, load(F32{}, St + j * MQ + v * W));
        const vf ms = finite_or_zero(mx);
        alpha[v] = vexp(vsub(m[sb][v], ms));
        vf sum = vset1(0.f);
        for (int j = 0; j < nk; ++j) {
          const vf p = vexp(vsub(load(F32{}, St + j * MQ + v * W), ms));
          store(F32{}, St + j * MQ + v * W, p);
          sum = vadd(sum, p);
        }
        l[sb][v] = vadd(vmul(l[sb][v], alpha[v]), sum);
        m[sb][v] = mx;
      }
      pv_block(St, nk, Vb + (jb - ub) * D, D, D, Ot, alpha, pfv);
    }
  }

  // out = Ot / l (transposed back); lse = m + log(l), -inf and zeros where no key was seen
  for (int sb = 0; sb < nsub; ++sb) {
    const int i0 = i0s[sb], mq = mqs[sb];
    const float* Ot = tiles + 2LL * sb * D * MQ + D * MQ;
    T* O = (T*)a.out + (long long)(qs + i0) * ldq + (long long)h * D;
    float* L = a.lse + (long long)(qs + i0) * a.hq + h;
    float ml[2 * MQ];
    for (int v = 0; v < QV; ++v) {
      store(F32{}, ml + v * W, m[sb][v]);
      store(F32{}, ml + MQ + v * W, l[sb][v]);
    }
    for (int i = 0; i < mq; ++i) {
      const float li = ml[MQ + i];
      const float inv = li > 0.f ? 1.0f / li : 0.f;
      L[(long long)i * a.hq] = li > 0.f ? ml[i] + logf(li) : ninf;
      for (int d = 0; d < D; ++d) row[d] = Ot[d * MQ + i] * inv;
      T* o = O + i * ldq;
      int d = 0;
      for (; d + W <= D; d += W) store(Dt{}, o + d, load(F32{}, row + d));
      if (d < D) store_tail(Dt{}, o + d, load_tail(F32{}, row + d, D - d, 0.f), D - d);
    }
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_attention_prefill(int dtype, const void* q, const void* k, const void* v, void* out,
                                           float* lse, const int* cu_seqlens_q, const int* cu_seqlens_k,
                                           int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                           float scale, int causal, int window_left) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (batch < 0 || num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads || head_dim < 8 ||
      head_dim % 8 || head_dim > kMaxHeadDim || !isfinite(scale))
    return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!cu_seqlens_q || !cu_seqlens_k) return GATUN_CPU_ENULL;
  if (cu_seqlens_q[0] != 0 || cu_seqlens_k[0] != 0) return GATUN_CPU_ESHAPE;
  long long total_q = 0, total_k = 0;
  for (int b = 0; b < batch; ++b) {
    if (cu_seqlens_q[b + 1] < cu_seqlens_q[b] || cu_seqlens_k[b + 1] < cu_seqlens_k[b]) return GATUN_CPU_ESHAPE;
  }
  total_q = cu_seqlens_q[batch];
  total_k = cu_seqlens_k[batch];
  if (total_q == 0) return GATUN_CPU_OK;
  if (!q || !out || !lse) return GATUN_CPU_ENULL;
  if (total_k > 0 && (!k || !v)) return GATUN_CPU_ENULL;
  if (total_q * num_q_heads * head_dim > kMaxElems || total_k * num_kv_heads * head_dim > kMaxElems)
    return GATUN_CPU_ESHAPE;

  Args a{q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, num_q_heads, num_kv_heads, head_dim, scale,
         causal ? 1 : 0, window_left < 0 ? -1 : window_left};
  // Work item = (sequence, head, up to kMaxSub sub-tiles of MQ queries). Bigger items read each K/V
  // block once for more queries; smaller ones when there would be too few items for the threads.
  // A row's arithmetic is the same in any grouping.
  long long tiles_total = 0;
  for (int b = 0; b < batch; ++b)
    tiles_total += (long long)num_q_heads * ((cu_seqlens_q[b + 1] - cu_seqlens_q[b] + MQ - 1) / MQ);
  int nsub = kMaxSub;
  while (nsub > 1 && tiles_total / nsub < 8LL * pool_threads()) --nsub;
  std::vector<Item> items;
  for (int b = 0; b < batch; ++b) {
    const int lq = cu_seqlens_q[b + 1] - cu_seqlens_q[b], lk = cu_seqlens_k[b + 1] - cu_seqlens_k[b];
    for (int i0 = 0; i0 < lq; i0 += nsub * MQ) {
      const int mq = std::min(nsub * MQ, lq - i0), off = lk - lq;
      long long hi = a.causal ? std::min(lk, i0 + mq + off) : lk;
      long long lo = a.window >= 0 ? std::max(0, i0 + off - a.window) : 0;
      long long cost = std::max(0LL, hi - lo) * ((mq + MQ - 1) / MQ) + 16;  // + fixed per-tile work
      for (int h = 0; h < num_q_heads; ++h) items.push_back({b, h, i0, nsub, cost});
    }
  }
  // heaviest first for load balance; the order never changes a row's result
  std::stable_sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.cost > y.cost; });
  const long long need = prefill_scratch(head_dim, nsub);
  int failed = 0;
  auto body = [&](long long i0, long long i1) {
    if (!scratch(need)) {
      __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
      return;
    }
    for (long long i = i0; i < i1; ++i) {
      dispatch(dtype, [&](auto d) { run_tile<decltype(d)>(a, items[i]); });
    }
  };
  parallel_for((long long)items.size(), 1, body);
  return failed ? GATUN_CPU_ESHAPE : GATUN_CPU_OK;
}

// FMA-peak probe (the ceiling for compute-bound ops): every pool thread runs `iters` rounds of
// 2 * kChains independent vector FMA chains (enough to cover FMA latency x ports).
// Returns the achieved GFLOP/s (fp32, an FMA counted as 2 FLOPs), or a negative value on error.
namespace {
__attribute__((noinline)) float fma_chains(long long iters, float seed) {
  using namespace GATUN_NS;
  const vf x = vset1(0.999999f), y = vset1(1e-7f);
  vf a0 = vset1(seed), a1 = vadd(a0, y), a2 = vadd(a1, y), a3 = vadd(a2, y), a4 = vadd(a3, y), a5 = vadd(a4, y);
  vf a6 = vadd(a5, y), a7 = vadd(a6, y), a8 = vadd(a7, y), a9 = vadd(a8, y), a10 = vadd(a9, y), a11 = vadd(a10, y);
  for (long long i = 0; i < iters; ++i) {
    a0 = vfma(a0, x, y); a1 = vfma(a1, x, y); a2 = vfma(a2, x, y); a3 = vfma(a3, x, y);
    a4 = vfma(a4, x, y); a5 = vfma(a5, x, y); a6 = vfma(a6, x, y); a7 = vfma(a7, x, y);
    a8 = vfma(a8, x, y); a9 = vfma(a9, x, y); a10 = vfma(a10, x, y); a11 = vfma(a11, x, y);
    // keeps the 12 chains in registers and stops the compiler from folding the loop
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                     "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  return hsum(vadd(vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), vadd(a6, a7))),
                   vadd(vadd(a8, a9), vadd(a10, a11))));
}
}  // namespace

#include <chrono>
extern "C" double gatun_cpu_fma_peak_gflops(long long iters) {
  using namespace GATUN_NS;
  if (iters < 1) return -1.0;
  const int t = pool_threads();
  volatile float sink = 0.f;
  // 16 pieces per thread, taken dynamically: a thread that starts late or shares its core with
  // other work just does fewer pieces, so the figure is the throughput the pool really gets
  const long long pieces = 16LL * t, per = (iters + 15) / 16;
  auto body = [&](long long b, long long e) {
    for (long long i = b; i < e; ++i) sink = sink + fma_chains(per, (float)i);
  };
  const auto t0 = std::chrono::steady_clock::now();
  parallel_for(pieces, 1, body);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return (double)pieces * per * 12 * W * 2 / s * 1e-9;
}
