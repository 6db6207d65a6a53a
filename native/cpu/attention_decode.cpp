// Paged decode attention on the CPU: one query token per sequence against a paged KV cache.
// Work item = (sequence, kv head, split). A split covers keys [p*split_size, (p+1)*split_size): the
// boundaries depend only on positions, so a sequence's result is bit-identical alone or in any batch
// and for any thread count. Inside a split, keys go in chunks of kChunk (aligned to the split start):
// the chunk's K and V rows are gathered through the block table into contiguous fp32 buffers (this
// also widens fp16/bf16 and sidesteps the 4 KiB-stride L1 aliasing of a [block, row, head, D] cache),
// then all G = Hq/Hkv query heads of the group are scored against the chunk, so each K/V row is read
// from memory once. The next chunk's rows are prefetched while this one computes.
// Partials (m, l, unnormalised acc) per split are merged by log-sum-exp in split order.
#include <math.h>

#include <algorithm>
#include <vector>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

#ifndef GATUN_DECODE_PF
#define GATUN_DECODE_PF 1
#endif
#ifndef GATUN_DECODE_PF_HINT
#define GATUN_DECODE_PF_HINT _MM_HINT_T0
#endif
#ifndef GATUN_DECODE_CHUNK
#define GATUN_DECODE_CHUNK 32
#endif
constexpr int kChunk = GATUN_DECODE_CHUNK;        // keys per chunk
constexpr int kMaxHeadDim = 256;
constexpr int kMaxGroup = 64;     // Hq / Hkv
constexpr int kDefaultSplit = 512;  // split_size <= 0

struct Args {
  const void *q, *kc, *vc;
  const int *bt, *lens;
  int hq, hkv, D, bs, mb, split, window;
  float scale;
  float* part;                 // [item][G][D + 2]: m, l, acc
  const long long* item_base;  // first item of each sequence (its splits x kv heads)
};

template <class Dt>
VI const typename Dt::T* row_ptr(const Args& a, const void* cache, int b, int j, int kvh) {
  const int blk = a.bt[(long long)b * a.mb + j / a.bs];
  return (const typename Dt::T*)cache + (((long long)blk * a.bs + j % a.bs) * a.hkv + kvh) * a.D;
}

// prefetch token j's rows of kv heads [kh0, kh1) (adjacent in memory) in `cache`
template <class Dt>
VI void prefetch_rows(const Args& a, const void* cache, int b, int j, int kh0, int kh1) {
  if (!GATUN_DECODE_PF) return;
  const int bytes = (kh1 - kh0) * a.D * (int)sizeof(typename Dt::T);
  const char* p = (const char*)row_ptr<Dt>(a, cache, b, j, kh0);
  for (int o = 0; o < bytes; o += 64) _mm_prefetch(p + o, GATUN_DECODE_PF_HINT);
}

// acc[0 .. NV*W) = alpha * acc + sum_j p[j] * V[j][0 .. NV*W), V rows ldv apart
template <int NV>
VI void pv_acc(float* acc, const float* V, long long ldv, const float* p, int n, vf alpha) {
  vf o[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) o[v] = vmul(load(F32{}, acc + v * W), alpha);
  for (int j = 0; j < n; ++j) {
    const vf pj = vset1(p[j]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) o[v] = vfma(pj, load(F32{}, V + j * ldv + v * W), o[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) store(F32{}, acc + v * W, o[v]);
}

// one split of one (sequence, kv head)
template <class Dt>
bool run_split(const Args& a, int b, int kh0, int kh1, int p, float* out_all) {
  using T = typename Dt::T;
  const int D = a.D, G = a.hq / a.hkv, DS = D + 2, len = a.lens[b];
  const float ninf = -__builtin_inff();
  const int lo = a.window >= 0 ? std::max(0, len - 1 - a.window) : 0;
  const int s0 = std::max(p * a.split, lo), s1 = std::min(len, (p + 1) * a.split);
  // out_all: [kv head][G][m, l, acc[D]]
  for (int x = 0; x < (kh1 - kh0) * G; ++x) {
    out_all[x * DS] = ninf;
    out_all[x * DS + 1] = 0.f;
    for (int d = 0; d < D; ++d) out_all[x * DS + 2 + d] = 0.f;
  }
  if (s1 <= s0) return true;
  const int Dp = (D + W - 1) / W * W;  // padded rows: whole vectors, zero tail
  const int NH = kh1 - kh0;
  float* buf = scratch(2LL * NH * G * Dp + 2LL * kChunk * NH * Dp + (long long)G * kChunk + 2 * W);
  if (!buf) return false;
  float* qall = buf;                    // [NH][G][Dp] scaled queries
  float* Kc = qall + NH * G * Dp;       // [kChunk][NH][Dp]: a token's heads side by side, as in the cache
  float* Vc = Kc + kChunk * NH * Dp;    // [kChunk][NH][Dp]
  float* S = Vc + kChunk * NH * Dp;     // [G][kChunk]
  float* Aall = S + G * kChunk;         // [NH][G][Dp] unnormalised outputs (padded rows)
  for (long long x = 0; x < (long long)NH * G * Dp; ++x) Aall[x] = 0.f;
  for (int g = 0; g < NH * G; ++g) {  // heads kh0*G .. kh1*G - 1 are contiguous
    const T* qr = (const T*)a.q + ((long long)b * a.hq + kh0 * G + g) * D;
    widen_row<Dt>(qr, qall + g * Dp, D);
    for (int d = 0; d < D; ++d) qall[g * Dp + d] *= a.scale;
    for (int d = D; d < Dp; ++d) qall[g * Dp + d] = 0.f;
  }
  for (int j = 0; j < kChunk * NH; ++j)
    for (int d = D; d < Dp; ++d) Kc[j * Dp + d] = Vc[j * Dp + d] = 0.f;

  // chunks aligned to the split start p*split (fixed by position)
  const int base = p * a.split;
  int c0 = base + (s0 - base) / kChunk * kChunk;
  for (; c0 < s1; c0 += kChunk) {
    const int j0 = std::max(c0, s0), j1 = std::min(c0 + kChunk, s1), n = j1 - j0;
    // gather the chunk in memory order: each token's K (then V) rows of heads kh0..kh1-1 are one
    // contiguous run in the cache, so the reads stream (good for the hardware prefetchers)
    // While gathering token j, prefetch the same rows of token j + kChunk (the next chunk), spread
    // out so the prefetches overlap this chunk's compute instead of stalling on full miss queues.
    const int pf_end = std::min(s1, c0 + 2 * kChunk);
    for (int j = 0; j < n; ++j) {
      if (j0 + j + kChunk < pf_end) prefetch_rows<Dt>(a, a.kc, b, j0 + j + kChunk, kh0, kh1);
      const T* kr = row_ptr<Dt>(a, a.kc, b, j0 + j, kh0);
      for (int x = 0; x < NH; ++x) widen_row<Dt>(kr + x * D, Kc + (j * NH + x) * Dp, D);
    }
    for (int j = 0; j < n; ++j) {
      if (j0 + j + kChunk < pf_end) prefetch_rows<Dt>(a, a.vc, b, j0 + j + kChunk, kh0, kh1);
      const T* vr = row_ptr<Dt>(a, a.vc, b, j0 + j, kh0);
      for (int x = 0; x < NH; ++x) widen_row<Dt>(vr + x * D, Vc + (j * NH + x) * Dp, D);
    }
    for (int kvh = kh0; kvh < kh1; ++kvh) {
    const float* qs = qall + (kvh - kh0) * G * Dp;
    float* out = out_all + (kvh - kh0) * G * DS;
    const int hx = kvh - kh0, ldc = NH * Dp;  // this head's rows in Kc/Vc: + hx * Dp, stride ldc
    // scores S[g][j] = qs[g] . K[j]; fixed order: vector lanes over d, then the hsum tree
    int j = 0;
    for (; j + 2 <= n && G >= 4; j += 2) {  // 2 keys x 4 heads: 8 independent FMA chains
      const float* k0 = Kc + j * ldc + hx * Dp;
      const float* k1 = k0 + ldc;
      for (int g = 0; g + 4 <= G; g += 4) {
        vf a0 = vset1(0.f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int d = 0; d < Dp; d += W) {
          const vf x = load(F32{}, k0 + d), y = load(F32{}, k1 + d);
          const vf q0 = load(F32{}, qs + g * Dp + d), q1 = load(F32{}, qs + (g + 1) * Dp + d);
          const vf q2 = load(F32{}, qs + (g + 2) * Dp + d), q3 = load(F32{}, qs + (g + 3) * Dp + d);
          a0 = vfma(q0, x, a0); a1 = vfma(q1, x, a1); a2 = vfma(q2, x, a2); a3 = vfma(q3, x, a3);
          b0 = vfma(q0, y, b0); b1 = vfma(q1, y, b1); b2 = vfma(q2, y, b2); b3 = vfma(q3, y, b3);
        }
        S[g * kChunk + j] = hsum(a0);
        S[(g + 1) * kChunk + j] = hsum(a1);
        S[(g + 2) * kChunk + j] = hsum(a2);
        S[(g + 3) * kChunk + j] = hsum(a3);
        S[g * kChunk + j + 1] = hsum(b0);
        S[(g + 1) * kChunk + j + 1] = hsum(b1);
        S[(g + 2) * kChunk + j + 1] = hsum(b2);
        S[(g + 3) * kChunk + j + 1] = hsum(b3);
      }
      for (int g = G / 4 * 4; g < G; ++g)
        for (int jj = j; jj < j + 2; ++jj) {
          vf sv = vset1(0.f);
          for (int d = 0; d < Dp; d += W) sv = vfma(load(F32{}, qs + g * Dp + d), load(F32{}, Kc + jj * ldc + hx * Dp + d), sv);
          S[g * kChunk + jj] = hsum(sv);
        }
    }
    for (; j < n; ++j) {
      const float* kr = Kc + j * ldc + hx * Dp;
      int g = 0;
      for (; g + 4 <= G; g += 4) {
        vf s0v = vset1(0.f), s1v = s0v, s2v = s0v, s3v = s0v;
        for (int d = 0; d < Dp; d += W) {
          const vf k = load(F32{}, kr + d);
          s0v = vfma(load(F32{}, qs + g * Dp + d), k, s0v);
          s1v = vfma(load(F32{}, qs + (g + 1) * Dp + d), k, s1v);
          s2v = vfma(load(F32{}, qs + (g + 2) * Dp + d), k, s2v);
          s3v = vfma(load(F32{}, qs + (g + 3) * Dp + d), k, s3v);
        }
        S[g * kChunk + j] = hsum(s0v);
        S[(g + 1) * kChunk + j] = hsum(s1v);
        S[(g + 2) * kChunk + j] = hsum(s2v);
        S[(g + 3) * kChunk + j] = hsum(s3v);
      }
      for (; g < G; ++g) {
        vf sv = vset1(0.f);
        for (int d = 0; d < Dp; d += W) sv = vfma(load(F32{}, qs + g * Dp + d), load(F32{}, kr + d), sv);
        S[g * kChunk + j] = hsum(sv);
      }
    }
    // online softmax per head, then acc = alpha * acc + P . V
    for (int g = 0; g < G; ++g) {
      float* st = out + g * DS;
      float* sg = S + g * kChunk;
      float mx = st[0];
      for (int j = 0; j < n; ++j) mx = std::max(mx, sg[j]);  // scores are finite here
      const float alpha = expf(st[0] - mx);                  // st[0] = -inf -> 0
      const vf mv = vset1(mx);
      vf sum = vset1(0.f);
      int j = 0;
      for (; j + W <= n; j += W) {
        const vf e = vexp(vsub(load(F32{}, sg + j), mv));
        store(F32{}, sg + j, e);
        sum = vadd(sum, e);
      }
      if (j < n) {
        const vf e = keep(vexp(vsub(load_tail(F32{}, sg + j, n - j, 0.f), mv)), n - j);
        store_tail(F32{}, sg + j, e, n - j);
        sum = vadd(sum, e);
      }
      st[0] = mx;
      st[1] = st[1] * alpha + hsum(sum);
      float* acc = Aall + ((long long)hx * G + g) * Dp;
      const vf av = vset1(alpha);
      const float* vb = Vc + hx * Dp;
      // blocks of up to 8 vectors: 8 independent FMA chains over the keys (one chain per vector
      // would be FMA-latency bound); each element still sums its keys in order
      int d = 0;
      for (; d + 8 * W <= Dp; d += 8 * W) pv_acc<8>(acc + d, vb + d, ldc, sg, n, av);
      switch ((Dp - d) / W) {
        case 0: break;
        case 1: pv_acc<1>(acc + d, vb + d, ldc, sg, n, av); break;
        case 2: pv_acc<2>(acc + d, vb + d, ldc, sg, n, av); break;
        case 3: pv_acc<3>(acc + d, vb + d, ldc, sg, n, av); break;
        case 4: pv_acc<4>(acc + d, vb + d, ldc, sg, n, av); break;
        case 5: pv_acc<5>(acc + d, vb + d, ldc, sg, n, av); break;
        case 6: pv_acc<6>(acc + d, vb + d, ldc, sg, n, av); break;
        default: pv_acc<7>(acc + d, vb + d, ldc, sg, n, av); break;
      }
    }
    }  // kv heads
  }
  for (int x = 0; x < NH * G; ++x) memcpy(out_all + x * DS + 2, Aall + (long long)x * Dp, sizeof(float) * D);
  return true;
}

template <class Dt>
void merge(const Args& a, int b, int h, int nsplit, void* outp, float* lse) {
  using T = typename Dt::T;
  const int D = a.D, G = a.hq / a.hkv, DS = D + 2, kvh = h / G, g = h % G;
  // partial of split p: item (item_base[b] + kvh * nsplit + p), head g
  auto part = [&](int p) { return a.part + ((a.item_base[b] + (long long)kvh * nsplit + p) * G + g) * DS; };
  float M = -__builtin_inff();
  for (int p = 0; p < nsplit; ++p) M = std::max(M, part(p)[0]);
  T* o = (T*)outp + ((long long)b * a.hq + h) * D;
  float row[kMaxHeadDim];
  if (M == -__builtin_inff()) {  // no visible key
    for (int d = 0; d < D; ++d) row[d] = 0.f;
    lse[(long long)b * a.hq + h] = -__builtin_inff();
  } else {
    float L = 0.f;
    for (int d = 0; d < D; ++d) row[d] = 0.f;
    for (int p = 0; p < nsplit; ++p) {
      const float* pp = part(p);
      if (pp[1] == 0.f) continue;  // empty split
      const float w = expf(pp[0] - M);
      L += pp[1] * w;
      for (int d = 0; d < D; ++d) row[d] += pp[2 + d] * w;
    }
    const float inv = 1.0f / L;
    for (int d = 0; d < D; ++d) row[d] *= inv;
    lse[(long long)b * a.hq + h] = M + logf(L);
  }
  narrow_row<Dt>(row, o, D);
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_attention_decode(int dtype, const void* q, const void* k_cache, const void* v_cache,
                                          const int* block_tables, const int* seq_lens, void* out, float* lse,
                                          int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                          int block_size, int max_blocks_per_seq, int split_size, float scale,
                                          int window_left) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (batch < 0 || num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads ||
      num_q_heads / num_kv_heads > kMaxGroup || head_dim < 8 || head_dim % 8 || head_dim > kMaxHeadDim ||
      block_size < 1 || max_blocks_per_seq < 0 || !isfinite(scale))
    return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!q || !out || !lse || !seq_lens) return GATUN_CPU_ENULL;
  const long long cap = (long long)block_size * max_blocks_per_seq;
  long long maxlen = 0;
  for (int b = 0; b < batch; ++b) {
    if (seq_lens[b] < 0 || seq_lens[b] > cap) return GATUN_CPU_ESHAPE;
    maxlen = std::max<long long>(maxlen, seq_lens[b]);
  }
  if (maxlen > 0 && (!k_cache || !v_cache || !block_tables)) return GATUN_CPU_ENULL;
  const int split = split_size > 0 ? split_size : kDefaultSplit;  // never derived from the batch
  const int G = num_q_heads / num_kv_heads, DS = head_dim + 2;
  // every sequence gets ceil(maxlen / split) splits so the merge indexing is uniform; a sequence's
  // own splits past its length are empty and skipped (no effect on its result)
  const int nsplit = (int)std::max<long long>(1, (maxlen + split - 1) / split);
  std::vector<long long> item_base(batch);
  for (int b = 0; b < batch; ++b) item_base[b] = (long long)b * num_kv_heads * nsplit;
  const long long items = (long long)batch * num_kv_heads * nsplit;
  std::vector<float> part;
  try {
    part.resize((size_t)(items * G * DS));
  } catch (...) {
    return GATUN_CPU_ESHAPE;
  }
  Args a{q, k_cache, v_cache, block_tables, seq_lens, num_q_heads, num_kv_heads, head_dim, block_size,
         max_blocks_per_seq, split, window_left < 0 ? -1 : window_left, scale, part.data(), item_base.data()};
  // Work item = (sequence, split, group of KG kv heads). Whole groups read each token's K/V rows in
  // one contiguous sweep; smaller groups only when there are too few items to feed the threads.
  // A (sequence, kv head, split)'s arithmetic is the same in any grouping.
  int KG = num_kv_heads;
  while (KG > 1 && (long long)batch * nsplit * (num_kv_heads / KG) < 4LL * pool_threads()) {
    int k = KG - 1;
    while (num_kv_heads % k) --k;
    KG = k;
  }
  const int ngroups = num_kv_heads / KG;
  const long long work = (long long)batch * nsplit * ngroups;
  int failed = 0;
  auto body = [&](long long i0, long long i1) {
    for (long long i = i0; i < i1; ++i) {
      const int b = (int)(i / ((long long)nsplit * ngroups));
      const int r = (int)(i % ((long long)nsplit * ngroups));
      const int p = r / ngroups, kh0 = (r % ngroups) * KG;
      // partial layout stays [b][kvh][split][G][DS]: gather this group's heads into a local block
      float* o = scratch<1>(KG * G * DS);  // scratch<0> holds run_split's chunk buffers
      bool ok = false;
      if (!o) {
        __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
        continue;
      }
      dispatch(dtype, [&](auto d) { ok = run_split<decltype(d)>(a, b, kh0, kh0 + KG, p, o); });
      if (!ok) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
      for (int x = 0; x < KG; ++x)
        memcpy(a.part + ((item_base[b] + (long long)(kh0 + x) * nsplit + p) * G) * DS, o + x * G * DS,
               sizeof(float) * G * DS);
    }
  };
  parallel_for(work, 1, body);
  if (failed) return GATUN_CPU_ESHAPE;
  auto mbody = [&](long long i0, long long i1) {
    for (long long i = i0; i < i1; ++i)
      dispatch(dtype, [&](auto d) { merge<decltype(d)>(a, (int)(i / num_q_heads), (int)(i % num_q_heads), nsplit, out, lse); });
  };
  const long long rows = (long long)batch * num_q_heads;
  parallel_for(rows, std::max(1LL, rows / (8LL * pool_threads())), mbody);
  return GATUN_CPU_OK;
}
