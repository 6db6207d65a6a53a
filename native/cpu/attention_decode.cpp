// Paged decode attention on the CPU: one query token per sequence against a paged KV cache.
// Work item = (sequence, kv head, split). A split covers keys [p*split_size, (p+1)*split_size): the
// boundaries depend only on positions, so a sequence's result is bit-identical alone or in any batch
// and for any thread count. Inside a split, keys go in chunks of kChunk (aligned to the split start):
// the chunk's K and V rows are read in place through the block table (widened to fp32 in registers;
// bf16 on AMD CPUs with avx512_bf16 multiplied in pairs by vdpbf16ps instead), and all G = Hq/Hkv
// query heads of the group are scored against each row, so each K/V row is read from memory once.
// Copying rows into a contiguous buffer first (measured) halves the speed: the copy loop stalls on
// the misses with no arithmetic to hide them. Instead the next chunk's rows are prefetched a few
// lines per step of this chunk's arithmetic, whole token rows (all heads of the group) in address
// order (measured 13% faster than prefetching each head's own rows, 4 KB apart).
// What bounds it (measured, 2-core Zen 5 VM, b16 ctx4096 fp32): not the arithmetic (with one query
// head per kv head instead of four it reads no faster; with K/V in L3 it computes at ~95 GB/s) but
// the order of the reads: the same reads in the same order with no arithmetic at all run about as
// fast as this kernel (~40-50 GB/s), where each chunk's K and V rows read in address order, K and V
// alternating line by line, run at 65-78. Kernels that read in that order (all heads per token,
// K of this chunk beside V of the last; or all heads of 4-token chunks) lost the overlap of reads
// and arithmetic: 25-37 GB/s. Without the prefetch: ~31 GB/s. On a 2-core Intel Xeon VM (AMX, 2 MiB
// L2, 300 MiB L3) the same shapes read 31-34 GB/s in fp32, 86-94% of the DRAM read ceiling (36.5 GB/s:
// row_sum over 2 GiB, beyond L3, alternated with it), and 25-30 in bf16 (70-80%), whose widening
// arithmetic bounds it there: with K/V in L3 it computes at ~36 GB/s. On a 2-core AMD Zen 4 VM (1 MiB
// L2, 32 MiB L3), whose memory gives ~25, 30-35 or 45-55 GB/s by the minute, the reads bound it again:
// one thread reads 15-16 GB/s (fp32) where a sequential row_sum reads 26, as fast with a quarter of
// the arithmetic (one query head per kv head), and the kernel's reads alone (a C harness, no
// arithmetic: K and V rows head by head, the next chunk prefetched) run at 16, 20 with only one of
// the two streams. Every line comes through the software prefetch (the hardware streamers fill none
// of the gaps: every other line prefetched, 10 GB/s). 2 MiB pages (the host allocator's large blocks
// are advised so) lift one thread to ~18 GB/s and both to 26-28 (fp32), ~80% of the slower state's
// ceiling.
// Partials (m, l, unnormalised acc) per split are merged by log-sum-exp in split order.
#include <math.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "dots.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

#ifndef GATUN_DECODE_PF
#define GATUN_DECODE_PF 1
#endif
#ifndef GATUN_DECODE_CHUNK
#define GATUN_DECODE_CHUNK 16
#endif
constexpr int kChunk = GATUN_DECODE_CHUNK;        // keys per chunk
constexpr int kMaxHeadDim = 256;
constexpr int kMaxGroup = 64;     // Hq / Hkv
constexpr int kDefaultSplit = 512;  // split_size <= 0
// prefetch steps go by elements of d, not by vectors, so both ISA builds spread the same number of
// steps over a chunk (a step per 8-lane vector on the AVX2 build cost more than it hid)
constexpr int kQkStepElems = 16, kPvStepElems = 64;

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

// Software prefetch of a list of rows, a few lines per step: spread over the arithmetic, the misses
// overlap it; issued in one burst they would fill the miss queues and stall. The hint depends on the
// core (16 x 4096 tokens, alternated runs): on AMD Zen 5, T0 (L1 and L2) read 5% (fp32) and 18-24%
// (bf16, fp16) faster than T1 (L2 only on Zen 4 and later) while the VM's memory was fast, 3-10%
// while slow (the AVX2 build: fp32 the same, bf16/fp16 0-10%); on an Intel Xeon (AMX), T0 read
// 10-15% slower than T1 (fp32 27-29 vs 31-33 GB/s of a 36-40 ceiling; the AVX2 build too); on AMD
// Zen 4 (32 KiB L1, 48 on the other two), T0 read 15-25% slower (fp32 20-22 vs 25-28 GB/s). A step
// touches only the cursor (next line, end of its row): with the row list inside this struct and a
// line offset instead, fp16 and bf16 decode ran 16-25% slower (64-token blocks).
struct RowPrefetch {
  const char* const* rows;
  int nrows, bytes, per, r = 0;
  const char *cur = nullptr, *end = nullptr;
  // the lines of nrows rows of row_bytes each, spread over `steps` calls of step()
  RowPrefetch(const char* const* rows_, int nrows_, int row_bytes, int steps) : rows(rows_), nrows(nrows_), bytes(row_bytes) {
    const int lines = nrows * ((row_bytes + 63) / 64);
    per = GATUN_DECODE_PF ? (lines + steps - 1) / std::max(1, steps) : 0;
    if (nrows > 0 && per > 0) cur = rows[0], end = cur + bytes;
  }
  inline __attribute__((always_inline)) void step() {
    if (!cur) return;
    const char* stop = end - cur > per * 64 ? cur + per * 64 : end;
    if (amd_family >= 0x1A)  // hint T0 (into L1 too) on Zen 5 and later, else T1
      for (; cur < stop; cur += 64) _mm_prefetch(cur, _MM_HINT_T0);
    else
      for (; cur < stop; cur += 64) _mm_prefetch(cur, _MM_HINT_T1);
    if (cur >= end) {
      if (++r == nrows) cur = nullptr;
      else cur = rows[r], end = cur + bytes;
    }
  }
};

// one kv head's scores for a chunk of n tokens, query heads g0 .. g0 + GB - 1: block(row, S + ..)
// scores W / GB rows (a dot_block). A short last block repeats its last row (scores computed and
// dropped): a score never depends on its neighbours.
template <class T, int GB, class Block>
VI void qk_chunk(Block block, const T* const* kr, int n, float* S, int g0) {
  constexpr int NT = W / GB;
  float tail[GB * kChunk];  // scores of a short last block
  for (int t = 0; t < n; t += NT) {
    if (t + NT <= n) {
      block([&](int i) { return kr[t + i]; }, S + g0 * kChunk + t);
    } else {
      block([&](int i) { return kr[std::min(t + i, n - 1)]; }, tail);
      for (int g = 0; g < GB; ++g) memcpy(S + (g0 + g) * kChunk + t, tail + g * kChunk, sizeof(float) * (n - t));
    }
  }
}

// calls of RowPrefetch::step() one head makes in a chunk of n keys: one per kQkStepElems of d in
// each QK score block, one per token in each PV pass that starts at a multiple of kPvStepElems
int prefetch_steps(int n, int D, int G, int GB, int GQ) {
  const int qk = GQ / GB * ((n + W / GB - 1) / (W / GB)) * ((D + kQkStepElems - 1) / kQkStepElems);
  return qk + n * (G / 4 + G % 4) * ((D + kPvStepElems - 1) / kPvStepElems);
}

// one split of one (sequence, group of kv heads [kh0, kh1))
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
  // scores go GB query heads x W/GB tokens at a time; the group is padded with zero queries to GQ
  const int GB = G == 1 ? 1 : G == 2 ? 2 : 4, GQ = (G + GB - 1) / GB * GB;
  const int GA = (G + W - 1) / W * W;  // G rounded up to whole vectors
  // bf16 on AMD cores with avx512_bf16: scores and P.V through vdpbf16ps (on Zen 4 it issues as fast
  // as an FMA; on an Intel Xeon at half that rate, where the scores ran no faster with it and the
  // shift-and-mask widening stays). The scores from the queries as given (in qall's space:
  // [NH][GQ][Dq] bf16, zero past D up to whole 2W blocks), scaled after the dot products; the output
  // rows in whole 2W blocks.
#ifdef __AVX512BF16__
  const bool dp = std::is_same_v<Dt, BF16> && use_bf16_hw() && amd_family >= 0x19;
#else
  constexpr bool dp = false;
#endif
  const int Dq = (D + 2 * W - 1) / (2 * W) * (2 * W), Do = dp ? Dq : Dp;
  float* buf = scratch((long long)NH * (GQ * Dp + G * Do) + 2LL * (GQ * kChunk + GA));
  if (!buf) return false;
  float* qall = buf;                  // [NH][GQ][Dp] scaled queries, zero rows past G
  float* Aall = qall + NH * GQ * Dp;  // [NH][G][Do] unnormalised outputs
  float* S = Aall + NH * G * Do;      // [2][GQ][kChunk] scores, then probabilities
  float* alpha = S + 2 * GQ * kChunk; // [2][GA] rescale factors
  for (long long x = 0; x < (long long)NH * G * Do; ++x) Aall[x] = 0.f;
  for (int g = 0; g < 2 * GA; ++g) alpha[g] = 0.f;
  for (long long x = 0; x < (long long)NH * GQ * Dp; ++x) qall[x] = 0.f;
  uint16_t* qbf = (uint16_t*)qall;  // Dq * 2 bytes <= Dp * 4
  for (int x = 0; x < NH; ++x)
    for (int g = 0; g < G; ++g) {
      const T* qr = (const T*)a.q + ((long long)b * a.hq + (kh0 + x) * G + g) * D;
      if (dp) {
        memcpy(qbf + ((long long)x * GQ + g) * Dq, qr, sizeof(T) * D);
        continue;
      }
      float* qd = qall + ((long long)x * GQ + g) * Dp;
      widen_row<Dt>(qr, qd, D);
      for (int d = 0; d < D; ++d) qd[d] *= a.scale;
      if constexpr (std::is_same_v<Dt, BF16>) pair_order(qd, D);
    }

  // K/V rows are read in place (a token's rows of heads kh0..kh1-1 are adjacent in the cache);
  // chunks are aligned to the split start p*split (fixed by position). While this chunk computes,
  // the next chunk's rows are prefetched.
  const T *kr[kChunk], *vr[kChunk], *kn[kChunk], *vn[kChunk];
  const int base = p * a.split;
  int c0 = base + (s0 - base) / kChunk * kChunk;
  auto rows_of = [&](int c, const T** kp, const T** vp) {
    const int j0 = std::max(c, s0), j1 = std::min(c + kChunk, s1);
    for (int j = j0; j < j1; ++j) kp[j - j0] = row_ptr<Dt>(a, a.kc, b, j, kh0), vp[j - j0] = row_ptr<Dt>(a, a.vc, b, j, kh0);
    return std::max(0, j1 - j0);
  };
  int n = rows_of(c0, kr, vr);
  for (; c0 < s1; c0 += kChunk) {
    const int nn = c0 + kChunk < s1 ? rows_of(c0 + kChunk, kn, vn) : 0;
    // the next chunk's token rows, spread over this chunk's heads
    const char* next_rows[2 * kChunk];
    for (int t = 0; t < nn; ++t) next_rows[t] = (const char*)kn[t], next_rows[nn + t] = (const char*)vn[t];
    RowPrefetch pf(next_rows, 2 * nn, NH * D * (int)sizeof(T), NH * prefetch_steps(n, D, G, GB, GQ));
    // per kv head x: scores, online softmax, P.V. The next head's scores run between a head's softmax
    // and its P.V (S and alpha alternate between two buffers), so that the softmax's reductions and
    // exps, a chain of dependent latencies, overlap independent FMAs (+2%, one core, K/V in L2).
    auto step = [&](int d) {
      if (d % kQkStepElems == 0) pf.step();
    };
    auto scores = [&](int x, float* Sx) {
      const T* kx[kChunk];
      for (int t = 0; t < n; ++t) kx[t] = kr[t] + x * D;
      auto blocks = [&](auto gb) {
        constexpr int B = decltype(gb)::value;
        for (int g = 0; g < GQ; g += B) {
#ifdef __AVX512BF16__
          if constexpr (std::is_same_v<Dt, BF16>)
            if (dp) {
              const uint16_t* qg = qbf + ((long long)x * GQ + g) * Dq;
              qk_chunk<T, B>([&](auto row, float* s) { dot_block_bf16dp<B>(qg, Dq, row, D, s, kChunk, a.scale, step); }, kx, n, Sx, g);
              continue;
            }
#endif
          const float* qg = qall + ((long long)x * GQ + g) * Dp;
          qk_chunk<T, B>([&](auto row, float* s) { dot_block<Dt, B>(qg, Dp, row, D, s, kChunk, step); }, kx, n, Sx, g);
        }
      };
      if (GB == 4) blocks(std::integral_constant<int, 4>{});
      else if (GB == 2) blocks(std::integral_constant<int, 2>{});
      else blocks(std::integral_constant<int, 1>{});
    };
    // online softmax per query head: the new maxima first, so that the rescale factors go through
    // one vector exp (st[0] = -inf on the first chunk: its factor multiplies zeros)
    auto softmax = [&](int x, float* Sx, float* ax) {
      float* out = out_all + x * G * DS;
      for (int g = 0; g < G; ++g) {
        float* st = out + g * DS;
        const float* sg = Sx + g * kChunk;
        vf mv = vset1(st[0]);
        int t = 0;
        for (; t + W <= n; t += W) mv = vmax(mv, load(F32{}, sg + t));
        if (t < n) mv = vmax(mv, load_tail(F32{}, sg + t, n - t, -__builtin_inff()));
        const float mx = hmax(mv);  // scores are finite here
        ax[g] = st[0] - mx;
        st[0] = mx;
      }
      for (int g = 0; g < G; g += W) store(F32{}, ax + g, vexp(load(F32{}, ax + g)));
      for (int g = 0; g < G; ++g) {
        float* st = out + g * DS;
        float* sg = Sx + g * kChunk;
        const vf mv = vset1(st[0]);
        vf sum = vset1(0.f);
        int t = 0;
        for (; t + W <= n; t += W) {
          const vf e = vexp(vsub(load(F32{}, sg + t), mv));
          store(F32{}, sg + t, e);
          sum = vadd(sum, e);
        }
        if (t < n) {
          const vf e = keep(vexp(vsub(load_tail(F32{}, sg + t, n - t, 0.f), mv)), n - t);
          store_tail(F32{}, sg + t, e, n - t);
          sum = vadd(sum, e);
        }
        st[1] = st[1] * ax[g] + hsum(sum);
      }
    };
    auto pv = [&](int x, const float* Sx, const float* ax) {
      float* acc = Aall + (long long)x * G * Do;
      const T* vx[kChunk];
      for (int t = 0; t < n; ++t) vx[t] = vr[t] + x * D;
      auto v_row = [&](int t) { return vx[t]; };
      auto pv_step = [&](int d0) {
        if (d0 % kPvStepElems == 0) pf.step();
      };
      int g = 0;
#ifdef __AVX512BF16__
      if constexpr (std::is_same_v<Dt, BF16>)
        if (dp) {
          uint16_t P[kMaxGroup][kChunk];  // the probabilities as bf16, zero from n
          for (g = 0; g < G; ++g)
            for (int t = 0; t < kChunk; t += W) {
              const vf p = load_tail(F32{}, Sx + g * kChunk + t, std::clamp(n - t, 0, W), 0.f);
              _mm256_storeu_si256((__m256i*)(P[g] + t), (__m256i)_mm512_cvtneps_pbh(p));
            }
          for (g = 0; g + 4 <= G; g += 4) pv_rows_bf16dp<4>(acc + g * Dq, Dq, v_row, n, D, P[g], kChunk, ax + g, pv_step);
          for (; g < G; ++g) pv_rows_bf16dp<1>(acc + g * Dq, Dq, v_row, n, D, P[g], kChunk, ax + g, pv_step);
          return;
        }
#endif
      for (; g + 4 <= G; g += 4) pv_rows<Dt, 4>(acc + g * Dp, Dp, v_row, n, D, Sx + g * kChunk, kChunk, ax + g, pv_step);
      for (; g < G; ++g) pv_rows<Dt, 1>(acc + g * Dp, Dp, v_row, n, D, Sx + g * kChunk, kChunk, ax + g, pv_step);
    };
    scores(0, S);
    for (int x = 0; x < NH; ++x) {
      float *Sx = S + (x & 1) * GQ * kChunk, *ax = alpha + (x & 1) * GA;
      softmax(x, Sx, ax);
      if (x + 1 < NH) scores(x + 1, S + ((x + 1) & 1) * GQ * kChunk);
      pv(x, Sx, ax);
    }
    std::copy(kn, kn + nn, kr);
    std::copy(vn, vn + nn, vr);
    n = nn;
  }
  for (int x = 0; x < NH * G; ++x) {
    const float* o = Aall + (long long)x * Do;
#ifdef __AVX512BF16__
    if (dp) {
      from_unpacked(o, D, out_all + x * DS + 2);
      continue;
    }
#endif
    if constexpr (std::is_same_v<Dt, BF16>) in_order(o, D, out_all + x * DS + 2);
    else memcpy(out_all + x * DS + 2, o, sizeof(float) * D);
  }
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
