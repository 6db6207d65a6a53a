// Chunked prefill against the paged KV cache on the CPU: the queries of a new chunk attend to the keys
// already in the cache plus their own (already appended) keys. Same schedule as the flash prefill
// (attention_prefill.cpp): one work item = one tile of MQ queries of one (sequence, head), queries along
// vector lanes, online softmax over key blocks of NK keys aligned to absolute multiples of NK from key 0.
// Each key block is gathered through the block table into contiguous fp32 rows (Kb, Vb [nk][D]); the
// micro-kernels then broadcast K[j][d] / V[j][d] against the transposed query tile, so the softmax
// reductions over keys are vertical vector ops per query lane. A row's arithmetic depends only on its
// position in its sequence, len_q, seq_len, the flags and head_dim: never on the batch, the tile
// grouping of other rows or the thread count (keys a row cannot see contribute exact zeros).
#include <math.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

#ifdef GATUN_AVX512
constexpr int PQV = 4;  // query vectors per tile: MQ = 64
#else
constexpr int PQV = 2;  // MQ = 16
#endif
constexpr int PKR = 6;   // keys per QK register block
constexpr int PDR = 6;   // head-dim rows per PV register block
constexpr int PNK = 64;  // keys per block
constexpr int PMQ = PQV * W;
constexpr int kPagedMaxHeadDim = 256;

// St[r][:] = sum_d Kb[r][d] * Qt[d][:] for r < R (Kb rows D floats apart)
template <int R>
VI void pg_qk_rows(const float* __restrict Qt, int D, const float* __restrict K, float* __restrict St) {
  vf acc[R][PQV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) acc[r][v] = vset1(0.f);
  for (int d = 0; d < D; ++d) {
    vf q[PQV];
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) q[v] = load(F32{}, Qt + d * PMQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(K[r * D + d]);
#pragma GCC unroll 4
      for (int v = 0; v < PQV; ++v) acc[r][v] = vfma(b, q[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) store(F32{}, St + r * PMQ + v * W, acc[r][v]);
}

__attribute__((noinline)) void pg_qk_block(const float* Qt, int D, const float* K, int nk, float* St) {
  int j = 0;
  for (; j + PKR <= nk; j += PKR) pg_qk_rows<PKR>(Qt, D, K + j * D, St + j * PMQ);
  switch (nk - j) {
    case 1: pg_qk_rows<1>(Qt, D, K + j * D, St + j * PMQ); break;
    case 2: pg_qk_rows<2>(Qt, D, K + j * D, St + j * PMQ); break;
    case 3: pg_qk_rows<3>(Qt, D, K + j * D, St + j * PMQ); break;
    case 4: pg_qk_rows<4>(Qt, D, K + j * D, St + j * PMQ); break;
    case 5: pg_qk_rows<5>(Qt, D, K + j * D, St + j * PMQ); break;
    default: break;
  }
}

// Ot[d0 + r][:] = alpha * Ot[d0 + r][:] + sum_j Vb[j][d0 + r] * P[j][:] for r < R
template <int R>
VI void pg_pv_rows(const float* __restrict P, int nk, const float* __restrict V, int D, int d0, float* __restrict Ot,
                   const vf* alpha) {
  vf acc[R][PQV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) acc[r][v] = vmul(load(F32{}, Ot + (d0 + r) * PMQ + v * W), alpha[v]);
  const float* vp = V + d0;
  for (int j = 0; j < nk; ++j, vp += D) {
    vf p[PQV];
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) p[v] = load(F32{}, P + j * PMQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const vf b = vset1(vp[r]);
#pragma GCC unroll 4
      for (int v = 0; v < PQV; ++v) acc[r][v] = vfma(b, p[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < PQV; ++v) store(F32{}, Ot + (d0 + r) * PMQ + v * W, acc[r][v]);
}

__attribute__((noinline)) void pg_pv_block(const float* P, int nk, const float* V, int D, float* Ot, const vf* alpha) {
  int d = 0;
  for (; d + PDR <= D; d += PDR) pg_pv_rows<PDR>(P, nk, V, D, d, Ot, alpha);
  switch (D - d) {  // D % 8 == 0 and PDR == 6: the remainder is 0, 2 or 4
    case 2: pg_pv_rows<2>(P, nk, V, D, d, Ot, alpha); break;
    case 4: pg_pv_rows<4>(P, nk, V, D, d, Ot, alpha); break;
    default:
      for (; d < D; ++d) pg_pv_rows<1>(P, nk, V, D, d, Ot, alpha);
  }
}

VI vf pg_mask_lt(vf x, vf a, vf b) {  // lanes where a < b get -inf
#ifdef GATUN_AVX512
  return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), vset1(-__builtin_inff()));
#else
  return _mm256_blendv_ps(x, vset1(-__builtin_inff()), _mm256_cmp_ps(a, b, _CMP_LT_OQ));
#endif
}
VI vf pg_finite_or_zero(vf x) {  // x, or 0 where x == -inf
#ifdef GATUN_AVX512
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, vset1(-__builtin_inff()), _CMP_NEQ_OQ), x);
#else
  return _mm256_and_ps(x, _mm256_cmp_ps(x, vset1(-__builtin_inff()), _CMP_NEQ_OQ));
#endif
}
VI vf pg_lane_index() {
#ifdef GATUN_AVX512
  return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
  return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
#endif
}

template <class Dt>
VI void pg_widen(const typename Dt::T* src, float* dst, int n) {  // n a multiple of 8
  int i = 0;
  for (; i + W <= n; i += W) store(F32{}, dst + i, load(Dt{}, src + i));
  if (i < n) store_tail(F32{}, dst + i, load_tail(Dt{}, src + i, n - i, 0.f), n - i);
}

struct PgItem {
  int seq, head, q0;
  long long cost;
};

struct PgArgs {
  const void *q, *kc, *vc;
  void* out;
  float* lse;
  const int *cu_q, *tables, *seq_lens;
  int hq, hkv, D, block_size, mbps;
  float scale;
  int causal, window;
};

template <class Dt>
void pg_run_tile(const PgArgs& a, const PgItem& it) {
  using T = typename Dt::T;
  const int D = a.D, bs = a.block_size;
  const int qs = a.cu_q[it.seq], len_q = a.cu_q[it.seq + 1] - qs;
  const int len_k = a.seq_lens[it.seq];
  const int off = len_k - len_q;
  const int h = it.head, kvh = h / (a.hq / a.hkv);
  const int i0 = it.q0, mq = std::min(PMQ, len_q - i0);
  const long long ldq = (long long)a.hq * D, ldk = (long long)a.hkv * D;
  const int* table = a.tables + (long long)it.seq * a.mbps;
  const T* Q = (const T*)a.q + (long long)(qs + i0) * ldq + (long long)h * D;
  T* O = (T*)a.out + (long long)(qs + i0) * ldq + (long long)h * D;
  float* L = a.lse + (long long)(qs + i0) * a.hq + h;
  const T* Kc = (const T*)a.kc + (long long)kvh * D;
  const T* Vc = (const T*)a.vc + (long long)kvh * D;

  // scratch: Qt, Ot [D][MQ], St [NK][MQ], row [max D], Kb, Vb [NK][D]
  float* buf = scratch(2LL * D * PMQ + (long long)PNK * PMQ + kPagedMaxHeadDim + 2LL * PNK * D);
  if (!buf) return;  // reported by the caller
  float* Qt = buf;
  float* Ot = Qt + D * PMQ;
  float* St = Ot + D * PMQ;
  float* row = St + PNK * PMQ;
  float* Kb = row + kPagedMaxHeadDim;
  float* Vb = Kb + PNK * D;

  for (int i = 0; i < PMQ; ++i) {
    if (i < mq) {
      pg_widen<Dt>(Q + i * ldq, row, D);
      for (int d = 0; d < D; ++d) Qt[d * PMQ + i] = row[d] * a.scale;
    } else {
      for (int d = 0; d < D; ++d) Qt[d * PMQ + i] = 0.f;
    }
  }
  for (int x = 0; x < D * PMQ; x += W) store(F32{}, Ot + x, vset1(0.f));

  const float ninf = -__builtin_inff();
  vf m[PQV], l[PQV], qi[PQV];
  for (int v = 0; v < PQV; ++v) {
    m[v] = vset1(ninf);
    l[v] = vset1(0.f);
    qi[v] = vadd(pg_lane_index(), vset1((float)(i0 + v * W)));
  }

  // keys visible to some row of the tile: [j_lo, j_hi) (64-bit: off may be negative, window huge)
  const int wl = a.window;
  const int j_hi = a.causal ? (int)std::min<long long>(len_k, (long long)i0 + mq + off) : len_k;
  const int j_lo = wl >= 0 ? (int)std::min<long long>(std::max<long long>(0, (long long)i0 + off - wl), len_k) : 0;
  for (int b = j_lo / PNK * PNK; b < j_hi; b += PNK) {
    const int jb = std::max(b, j_lo), je = std::min(b + PNK, j_hi), nk = je - jb;
    if (nk <= 0) continue;
    // gather keys jb .. je-1 through the block table
    for (int j = jb; j < je;) {
      const int blk = j / bs, r0 = j - blk * bs, n = std::min(je - j, bs - r0);
      const long long base = ((long long)table[blk] * bs + r0) * ldk;
      for (int t = 0; t < n; ++t) {
        pg_widen<Dt>(Kc + base + t * ldk, Kb + (j - jb + t) * D, D);
        pg_widen<Dt>(Vc + base + t * ldk, Vb + (j - jb + t) * D, D);
      }
      j += n;
    }
    pg_qk_block(Qt, D, Kb, nk, St);

    // masks: causal j > i + off; window j < i + off - wl (float compares are exact below 2^24)
    const bool mask_hi = a.causal && ((long long)je - 1 > (long long)i0 + off);
    const bool mask_lo = wl >= 0 && ((long long)jb < (long long)i0 + mq - 1 + off - wl);
    if (mask_hi || mask_lo) {
      for (int j = 0; j < nk; ++j) {
        const vf jq = vset1((float)(jb + j - off));  // row i sees j iff jq <= i (causal), i <= jq + wl (window)
        for (int v = 0; v < PQV; ++v) {
          vf s = load(F32{}, St + j * PMQ + v * W);
          if (mask_hi) s = pg_mask_lt(s, qi[v], jq);
          if (mask_lo) s = pg_mask_lt(s, vadd(jq, vset1((float)wl)), qi[v]);
          store(F32{}, St + j * PMQ + v * W, s);
        }
      }
    }

    vf alpha[PQV];
    for (int v = 0; v < PQV; ++v) {
      vf mx = m[v];
      for (int j = 0; j < nk; ++j) mx = vmax(mx, load(F32{}, St + j * PMQ + v * W));
      const vf ms = pg_finite_or_zero(mx);
      alpha[v] = vexp(vsub(m[v], ms));
      vf sum = vset1(0.f);
      for (int j = 0; j < nk; ++j) {
        const vf p = vexp(vsub(load(F32{}, St + j * PMQ + v * W), ms));
        store(F32{}, St + j * PMQ + v * W, p);
        sum = vadd(sum, p);
      }
      l[v] = vadd(vmul(l[v], alpha[v]), sum);
      m[v] = mx;
    }
    pg_pv_block(St, nk, Vb, D, Ot, alpha);
  }

  float ml[2 * PMQ];
  for (int v = 0; v < PQV; ++v) {
    store(F32{}, ml + v * W, m[v]);
    store(F32{}, ml + PMQ + v * W, l[v]);
  }
  for (int i = 0; i < mq; ++i) {
    const float li = ml[PMQ + i];
    const float inv = li > 0.f ? 1.0f / li : 0.f;
    L[(long long)i * a.hq] = li > 0.f ? ml[i] + logf(li) : ninf;
    for (int d = 0; d < D; ++d) row[d] = Ot[d * PMQ + i] * inv;
    T* o = O + i * ldq;
    int d = 0;
    for (; d + W <= D; d += W) store(Dt{}, o + d, load(F32{}, row + d));
    if (d < D) store_tail(Dt{}, o + d, load_tail(F32{}, row + d, D - d, 0.f), D - d);
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_attention_prefill_paged(int dtype, const void* q, const void* k_cache, const void* v_cache,
                                                 void* out, float* lse, const int* cu_seqlens_q, const int* block_tables,
                                                 const int* seq_lens, int batch, int num_q_heads, int num_kv_heads,
                                                 int head_dim, int block_size, int max_blocks_per_seq, float scale,
                                                 int causal, int window_left) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (batch < 0 || num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads || head_dim < 8 ||
      head_dim % 8 || head_dim > kPagedMaxHeadDim || block_size < 1 || max_blocks_per_seq < 0 || !isfinite(scale))
    return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!cu_seqlens_q || !seq_lens) return GATUN_CPU_ENULL;
  if (cu_seqlens_q[0] != 0) return GATUN_CPU_ESHAPE;
  const long long cap = (long long)max_blocks_per_seq * block_size;
  long long max_len = 0;
  for (int b = 0; b < batch; ++b) {
    if (cu_seqlens_q[b + 1] < cu_seqlens_q[b] || seq_lens[b] < 0 || seq_lens[b] > cap) return GATUN_CPU_ESHAPE;
    max_len = std::max<long long>(max_len, seq_lens[b]);
  }
  const long long total_q = cu_seqlens_q[batch];
  if (total_q == 0) return GATUN_CPU_OK;
  if (!q || !out || !lse) return GATUN_CPU_ENULL;
  if (max_len > 0 && (!k_cache || !v_cache || !block_tables)) return GATUN_CPU_ENULL;
  if (total_q * num_q_heads * head_dim > kMaxElems) return GATUN_CPU_ESHAPE;
  for (int b = 0; b < batch; ++b)  // the used entries of each table row must be block ids
    for (long long j = 0; j < (seq_lens[b] + block_size - 1) / block_size; ++j)
      if (block_tables[(long long)b * max_blocks_per_seq + j] < 0) return GATUN_CPU_ESHAPE;

  PgArgs a{q, k_cache, v_cache, out, lse, cu_seqlens_q, block_tables, seq_lens, num_q_heads, num_kv_heads, head_dim,
           block_size, max_blocks_per_seq, scale, causal ? 1 : 0, window_left < 0 ? -1 : window_left};
  std::vector<PgItem> items;
  for (int b = 0; b < batch; ++b) {
    const int lq = cu_seqlens_q[b + 1] - cu_seqlens_q[b], lk = seq_lens[b], off = lk - lq;
    for (int i0 = 0; i0 < lq; i0 += PMQ) {
      const int mq = std::min(PMQ, lq - i0);
      const long long hi = a.causal ? std::min<long long>(lk, (long long)i0 + mq + off) : lk;
      const long long lo = a.window >= 0 ? std::max<long long>(0, (long long)i0 + off - a.window) : 0;
      const long long cost = std::max(0LL, hi - lo) + 16;  // + fixed per-tile work
      for (int h = 0; h < num_q_heads; ++h) items.push_back({b, h, i0, cost});
    }
  }
  // heaviest first for load balance; the order never changes a row's result
  std::stable_sort(items.begin(), items.end(), [](const PgItem& x, const PgItem& y) { return x.cost > y.cost; });
  const long long need = 2LL * head_dim * PMQ + (long long)PNK * PMQ + kPagedMaxHeadDim + 2LL * PNK * head_dim;
  int failed = 0;
  auto body = [&](long long i0, long long i1) {
    if (!scratch(need)) {
      __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
      return;
    }
    for (long long i = i0; i < i1; ++i) dispatch(dtype, [&](auto d) { pg_run_tile<decltype(d)>(a, items[i]); });
  };
  parallel_for((long long)items.size(), 1, body);
  return failed ? GATUN_CPU_ESHAPE : GATUN_CPU_OK;
}
