// The flash-prefill tiles shared by the CPU attention entries (FlashAttention-2 schedule):
// gatun_cpu_attention_prefill (attention_prefill.cpp: K/V packed per sequence, rows Hkv*D apart),
// gatun_cpu_attention_prefill_paged (attention_prefill_paged.cpp: K/V rows in a paged cache, reached
// through a block table) and gatun_cpu_video_attention (video_attention.cpp: [B, T, S, H, D] tokens read
// with strides, an optional text prefix). One body, run_tile<Dt>(args, rows, src, item), parameterised
// by the query side (VarlenRows, VideoRows: where query i of a sequence and its output live) and a K/V
// source (ContiguousSrc, PagedSrc, VideoSrc: how a key block's rows are fetched); the arithmetic of a row
// is the same for all, so paged or strided results equal contiguous ones bit for bit. Sequences of
// at most 32 queries and NK keys take run_short (attention_short.h) instead, in every entry alike.
//
// A work item is up to kMaxSub tiles of MQ queries of one (sequence, head); it walks the visible key
// blocks once, with an online softmax per query, and never materialises the S x S score matrix.
// Layout trick: each tile works transposed, with its MQ queries along vector lanes.
//   Qt [D][MQ]  = scale * log2(e) * Q tile, transposed once per tile (zero in lanes past the tile)
//   St [nk][MQ] = K_blk . Qt      qk_block (attention_blocks.h): broadcast K[j][d] (native row layout),
//                                 FMA with Qt[d][:]; it also keeps each lane's running max, so the
//                                 softmax needs no max pass
//   Ot [D][MQ] += V_blkᵀ . St     pv_block: broadcast V[j][d], FMA with P[j][:]
// so neither K nor V needs a transpose (fp32 K rows, and V rows on the AVX-512 build, are read in
// place, Hkv*D apart, where a key block's rows are evenly spaced; the rest is copied, widened or
// gathered into small fp32 buffers: SegmentKV says why), and the softmax max/sum over keys are
// vertical vector ops per query lane: no horizontal reductions. The sub-tiles of an item share each
// K/V block while it is in cache, and (evenly spaced rows) the next block is prefetched into L2
// during the current one (rows 4 KiB apart defeat the hardware prefetchers). Outputs at least the
// size of the threads' L2s go out with streaming stores (TileArgs::stream_out).
// Each query lane's arithmetic is independent of the other lanes and of the tiling: key blocks are
// aligned to absolute multiples of NK, and keys a row cannot see contribute exact zeros (p = 0,
// alpha = 1), so a row's result depends only on its sequence, never on the batch, the tile or item it
// landed in, or the thread count. Fully masked (tile, block) pairs are skipped.
#ifndef GATUN_CPU_ATTENTION_TILES_H
#define GATUN_CPU_ATTENTION_TILES_H

#include <math.h>

#include <algorithm>
#include <atomic>
#include <type_traits>
#include <vector>

#include "attention_blocks.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

#ifndef GATUN_ATTN_PACK32
#define GATUN_ATTN_PACK32 0  // 1: copy fp32 K/V blocks into contiguous buffers too (measured: slower)
#endif
constexpr int kMaxHeadDim = 256;  // both entries reject larger head_dim
// scores are kept in base 2 (scale * log2(e) folded into Q), so the softmax takes exp2: no
// multiply and a one-step range reduction per score
constexpr float kLog2e = 1.44269504088896341f, kLn2 = 0.693147180559945309f;

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

// ---------------------------------------------------------------- K/V sources
// A source gives, per sequence, its key count (len_k) and, per (sequence, kv head), a loader with
//   k_block(ub, ue, Kb, ld): pointer to fp32 K rows of keys [ub, ue), ld floats apart (in place, or
//                            widened/gathered into Kb [NK][D] with ld = D)
//   v_block(ub, ue, Vb, ld): the same for V
//   kv_padded(ub, ue, Kb, Vb, ld): K and V rows of keys [ub, ue) as fp32 rows ld floats apart,
//                            zero from D up to ld (whole vectors; the short path's blocks)
//   raw_rows(ub, ue, f):     f(j - ub, K row, V row) for keys [ub, ue), rows as stored (bf16 Dp tiles)
//   prefetch(b0, b1, pfk, pfv): set up the L2 prefetch of keys [b0, b1) (may leave them empty)

// K/V rows in up to two strided segments: keys 0 .. L-1 are the prefix (rows ldt apart from Kt/Vt;
// the text tokens of joint video attention), keys L.. the main segment (rows ldk apart from K/V).
// Prefill has no prefix (L = 0) and reads rows Hkv*D apart; the video modes read frames or
// patch positions with their strides in place.
template <class Dt>
struct SegmentKV {
  using T = typename Dt::T;
  // fp32 K rows are read in place. V rows too with 16-lane vectors: on a Zen 4 core, copying V
  // blocks into contiguous rows (so that the P.V broadcasts do not share the L1 sets of rows 4 KiB
  // apart) cost more than it saved. With 8-lane vectors a V row feeds only 12 FMAs (6 cycles), too
  // few to hide its L2 latency: there the copy wins (AVX2 build, causal h8 d128, paired runs in one
  // process: s512/s1024/s2048 2-7% faster)
  static constexpr bool kDirect = sizeof(T) == 4 && !GATUN_ATTN_PACK32, kDirectV = kDirect && W == 16;
  const T *K, *V;    // key L of the sequence, this kv head
  long long ldk;
  int D;
  const T *Kt, *Vt;  // key 0 (the prefix), this kv head
  long long ldt;
  int L;
  inline __attribute__((always_inline)) const T* k_row(int j) const { return j < L ? Kt + j * ldt : K + (j - L) * ldk; }
  inline __attribute__((always_inline)) const T* v_row(int j) const { return j < L ? Vt + j * ldt : V + (j - L) * ldk; }
  template <bool Direct, class Row>
  inline __attribute__((always_inline)) const float* fp32_block(Row row, int ub, int ue, float* buf, long long& ld) const {
    if constexpr (Direct) {
      if (ub >= L || ue <= L) {  // one segment: fp32 rows read in place
        ld = ub >= L ? ldk : ldt;
        return (const float*)row(ub);
      }
    }
    for (int j = ub; j < ue; ++j) widen_row<Dt>(row(j), buf + (j - ub) * D, D);
    ld = D;
    return buf;
  }
  inline __attribute__((always_inline)) const float* k_block(int ub, int ue, float* Kb, long long& ld) const {
    return fp32_block<kDirect>([&](int j) { return k_row(j); }, ub, ue, Kb, ld);
  }
  inline __attribute__((always_inline)) const float* v_block(int ub, int ue, float* Vb, long long& ld) const {
    return fp32_block<kDirectV>([&](int j) { return v_row(j); }, ub, ue, Vb, ld);
  }
  inline __attribute__((always_inline)) void kv_padded(int ub, int ue, float* Kb, float* Vb, int ld) const {
    for (int j = ub; j < ue; ++j)
      widen_row_padded<Dt>(k_row(j), Kb + (j - ub) * ld, D), widen_row_padded<Dt>(v_row(j), Vb + (j - ub) * ld, D);
  }
  // f(j - ub, K row j, V row j) for keys [ub, ue), rows as stored
  template <class F>
  inline __attribute__((always_inline)) void raw_rows(int ub, int ue, F&& f) const {
    for (int j = ub; j < ue; ++j) f(j - ub, k_row(j), v_row(j));
  }
  // keys [b0, b1) into L2 at once (the first block of the next item)
  void prefetch_now(int b0, int b1) const {
    for (int j = b0; j < b1; ++j) prefetch_l2(k_row(j), D * (int)sizeof(T)), prefetch_l2(v_row(j), D * (int)sizeof(T));
  }
  inline __attribute__((always_inline)) void prefetch(int b0, int b1, Prefetch& pfk, Prefetch& pfv) const {
    if (b0 < L) return;  // the prefix is short: no prefetch across the segment boundary
    const int lines = (D * (int)sizeof(T) + 63) / 64;
    pfk = {{(const char*)k_row(b0), ldk * (long long)sizeof(T)}, b1 - b0, lines};
    pfv = {{(const char*)v_row(b0), ldk * (long long)sizeof(T)}, b1 - b0, lines};
  }
};

// K/V packed per sequence: key j of sequence s at row cu_k[s] + j, rows Hkv*D elements apart.
struct ContiguousSrc {
  const void *k, *v;
  const int* cu_k;
  int hkv, D;
  int len_k(int seq) const { return cu_k[seq + 1] - cu_k[seq]; }
  template <class Dt>
  SegmentKV<Dt> at(int seq, int kvh) const {
    using T = typename Dt::T;
    const long long ldk = (long long)hkv * D, o = (long long)cu_k[seq] * ldk + (long long)kvh * D;
    return {(const T*)k + o, (const T*)v + o, ldk, D, nullptr, nullptr, 0, 0};
  }
};

// Paged cache [block][block_size][Hkv][D]: key j of a sequence is row j % bs of block table[j / bs].
// A key block within one cache block (block_size a multiple of NK, the cpu engines' 64) is read in
// place and prefetched as SegmentKV's rows are (chunks of 128-512 queries after up to 1920 cached
// keys, h8 d128 bs64, 2 threads: fp32 3-5% faster, bf16 3-4%, its prefetch alone); others are gathered.
template <class Dt>
struct PagedKV {
  using T = typename Dt::T;
  const T *Kc, *Vc;  // kv head offset applied
  const int* table;  // this sequence's row of the block tables
  long long ldk;
  int bs, D;
  // f(r, o): key ub + r lives at element offset o; runs of rows within a cache block are walked in order
  template <class F>
  inline __attribute__((always_inline)) void rows(int ub, int ue, F&& f) const {
    for (int j = ub; j < ue;) {
      const int blk = j / bs, r0 = j - blk * bs, n = std::min(ue - j, bs - r0);
      const long long base = ((long long)table[blk] * bs + r0) * ldk;
      for (int t = 0; t < n; ++t) f(j - ub + t, base + t * ldk);
      j += n;
    }
  }
  // element offset of key ub's row where keys [ub, ue) lie in one cache block, else -1
  long long one_block(int ub, int ue) const {
    const int blk = ub / bs;
    return (ue - 1) / bs == blk ? ((long long)table[blk] * bs + ub - blk * bs) * ldk : -1;
  }
  template <bool Direct>
  inline __attribute__((always_inline)) const float* fp32_block(const T* c, int ub, int ue, float* buf, long long& ld) const {
    if constexpr (Direct) {
      const long long o = one_block(ub, ue);
      if (o >= 0) {
        ld = ldk;
        return (const float*)(c + o);
      }
    }
    rows(ub, ue, [&](int r, long long o) { widen_row<Dt>(c + o, buf + r * D, D); });
    ld = D;
    return buf;
  }
  inline __attribute__((always_inline)) const float* k_block(int ub, int ue, float* Kb, long long& ld) const {
    return fp32_block<SegmentKV<Dt>::kDirect>(Kc, ub, ue, Kb, ld);
  }
  inline __attribute__((always_inline)) const float* v_block(int ub, int ue, float* Vb, long long& ld) const {
    return fp32_block<SegmentKV<Dt>::kDirectV>(Vc, ub, ue, Vb, ld);
  }
  inline __attribute__((always_inline)) void kv_padded(int ub, int ue, float* Kb, float* Vb, int ld) const {
    rows(ub, ue, [&](int r, long long o) {
      widen_row_padded<Dt>(Kc + o, Kb + r * ld, D), widen_row_padded<Dt>(Vc + o, Vb + r * ld, D);
    });
  }
  template <class F>
  inline __attribute__((always_inline)) void raw_rows(int ub, int ue, F&& f) const {
    rows(ub, ue, [&](int r, long long o) { f(r, Kc + o, Vc + o); });
  }
  void prefetch_now(int b0, int b1) const {
    rows(b0, b1, [&](int, long long o) { prefetch_l2(Kc + o, D * (int)sizeof(T)), prefetch_l2(Vc + o, D * (int)sizeof(T)); });
  }
  inline __attribute__((always_inline)) void prefetch(int b0, int b1, Prefetch& pfk, Prefetch& pfv) const {
    const long long o = one_block(b0, b1);
    if (o < 0) return;
    const int lines = (D * (int)sizeof(T) + 63) / 64;
    pfk = {{(const char*)(Kc + o), ldk * (long long)sizeof(T)}, b1 - b0, lines};
    pfv = {{(const char*)(Vc + o), ldk * (long long)sizeof(T)}, b1 - b0, lines};
  }
};

struct PagedSrc {
  const void *kc, *vc;
  const int *tables, *seq_lens;
  int hkv, D, block_size, mbps;
  int len_k(int seq) const { return seq_lens[seq]; }
  template <class Dt>
  PagedKV<Dt> at(int seq, int kvh) const {
    using T = typename Dt::T;
    return {(const T*)kc + (long long)kvh * D, (const T*)vc + (long long)kvh * D,
            tables + (long long)seq * mbps, (long long)hkv * D, block_size, D};
  }
};

// ---------------------------------------------------------------- work items
// query sub-tiles of MQ rows that share each K/V block: at most 512 queries (AVX-512: 8) and 16
// sub-tiles (AVX2, MQ = 16: 16 rather than 8 measured 1-4% faster at s2048, paired runs on Zen 4)
constexpr int kMaxSub = std::min(16, 512 / MQ);

struct Item {
  int seq, head, q0;  // q0: first query of the tile within the sequence
  int nsub;           // sub-tiles of MQ queries: rows q0 .. q0 + nsub*MQ - 1
  long long cost;
};

// St [NK][MQ], Kb and Vb [NK][D], (Dp) P [NK/2][MQ], and per sub-tile Qt and Ot [D][MQ]
inline long long prefill_scratch(int D, int nsub) {
  return (long long)NK * MQ * 3 / 2 + 2LL * NK * D + 2LL * nsub * D * MQ;
}

// Keys visible to some query of rows [i0, i0 + mq) of a sequence with len_q queries and len_k keys
// (the last query sees the last key): [*lo, *hi), empty when hi <= lo. 64-bit: off may be negative
// and the window huge.
inline void visible_keys(int len_k, int len_q, int i0, int mq, int causal, int window, int* lo, int* hi) {
  const long long off = (long long)len_k - len_q;
  *hi = causal ? (int)std::max<long long>(0, std::min<long long>(len_k, i0 + mq + off)) : len_k;
  *lo = window >= 0 ? (int)std::min<long long>(len_k, std::max<long long>(0, i0 + off - window)) : 0;
}

// The query side of a tile: where query i of (sequence, head) and its output and lse live.
// Varlen packed batch (prefill): rows cu_q[seq] + i, Hq*D apart; lse written.
struct VarlenRows {
  const void* q;
  void* out;
  float* lse;
  const int* cu_q;
  int hq, D;
  int len_q(int seq) const { return cu_q[seq + 1] - cu_q[seq]; }
  long long at(int seq, int h, int i) const { return ((long long)(cu_q[seq] + i) * hq + h) * D; }
  template <class T>
  const T* q_row(int seq, int h, int i) const { return (const T*)q + at(seq, h, i); }
  template <class T>
  T* out_row(int seq, int h, int i) const { return (T*)out + at(seq, h, i); }
  float* lse_row(int seq, int h, int i) const { return lse + (long long)(cu_q[seq] + i) * hq + h; }
};

struct TileArgs {
  int hq, hkv, D;
  float scale;
  int causal, window;
  // output rows go out with streaming stores: set by run_prefill for outputs at least the size of
  // the threads' L2s, which the next op would not find there anyway (it reads them from memory, not
  // L3). A tile's rows are Hq*D apart and written in a burst at its end; waiting for each line's
  // ownership stalled the stores. Zen 4, causal h8 d128, with fp32 V read in place, separate
  // processes alternated: fp32 s512 3.00 -> 2.88 ms, s1024 11.10 -> 10.91, s2048 42.3 -> 41.6
  // (44.5 -> 42.2 in an earlier round); bf16 s1024 11.38 -> 11.28, s2048 43.1 -> 42.4
  bool stream_out = false;
};

// Qt[d][i] = scale * element d of Q row i (q_row(i), i < mq; zero lanes past mq up to a whole
// vector), through W x W register transposes. Unscaled (Scale false), the elements' bits are only
// moved: F32 rows of bf16 pairs give the Dp tiles' Qt.
template <class Dt, bool Scale = true, class QRow>
VI void load_q_transposed(QRow q_row, int mq, int D, float scale, float* Qt) {
  for (int ib = 0; ib < mq; ib += W)
    for (int d = 0; d < D; d += W) {
      const int nd = std::min(W, D - d);
      vf r[W];
      for (int i = 0; i < W; ++i)
        r[i] = ib + i >= mq ? vset1(0.f) : nd == W ? load(Dt{}, q_row(ib + i) + d) : load_tail(Dt{}, q_row(ib + i) + d, nd, 0.f);
      transpose(r);
      for (int c = 0; c < nd; ++c) store(F32{}, Qt + (d + c) * MQ + ib, Scale ? vmul(r[c], vset1(scale)) : r[c]);
    }
}

// out row i (out_row(i), i < mq) = inv[i] * column i of Ot [D][MQ], through W x W register transposes;
// whole aligned vectors with streaming stores where `stream`
template <class Dt, class ORow>
VI void store_o_transposed(const float* Ot, const float* inv, int mq, int D, bool stream, ORow out_row) {
  using T = typename Dt::T;
  for (int ib = 0; ib < mq; ib += W)
    for (int d = 0; d < D; d += W) {
      const int nd = std::min(W, D - d);
      vf r[W];
      for (int c = 0; c < W; ++c) r[c] = c < nd ? load(F32{}, Ot + (d + c) * MQ + ib) : vset1(0.f);
      transpose(r);
      for (int i = 0; i < W && ib + i < mq; ++i) {
        const vf o = vmul(r[i], vset1(inv[ib + i]));
        T* p = out_row(ib + i) + d;
        if (nd < W) store_tail(Dt{}, p, o, nd);
        else if (stream && (uintptr_t)p % (W * sizeof(T)) == 0) store_nt(Dt{}, p, o);
        else store(Dt{}, p, o);
      }
    }
}

// The first key block an item reads (its K and V rows), into L2 at once.
template <class Dt, class Rows, class Src>
void prefetch_first_block(const TileArgs& a, const Rows& rows, const Src& src, const Item& it) {
  const int len_q = rows.len_q(it.seq), len_k = src.len_k(it.seq), mq = std::min(MQ, len_q - it.q0);
  int lo, hi;
  visible_keys(len_k, len_q, it.q0, mq, a.causal, a.window, &lo, &hi);
  if (hi > lo) src.template at<Dt>(it.seq, it.head / (a.hq / a.hkv)).prefetch_now(lo, std::min(hi, lo / NK * NK + NK));
}

// One work item: queries [q0, q0 + nsub*MQ) of (sequence, head), K/V from `src`. `next` (or null):
// the item this thread runs next, whose query rows and first K/V block go to L2 during this one.
// Dp (bf16): Q.K and P.V by vdpbf16ps on bf16 pairs (attention_blocks.h), at twice the FMAs' rate
// on Zen 4: Qt holds the queries' pairs of d as given, each key block is staged as bf16 K rows and
// V pairs of keys (aligned to even keys, zero for keys outside the block), and P is rounded to bf16
// as FlashAttention does for 16-bit inputs; masks, softmax and Ot stay fp32.
template <class Dt, bool Dp, class Rows, class Src>
void tile(const TileArgs& a, const Rows& rows, const Src& src, const Item& it, const Item* next) {
  using T = typename Dt::T;
  const int D = a.D;
  const int len_q = rows.len_q(it.seq);
  const int len_k = src.len_k(it.seq);
  const int off = len_k - len_q, wl = a.window;
  const int h = it.head, kvh = h / (a.hq / a.hkv);
  const auto kv = src.template at<Dt>(it.seq, kvh);
  const int nsub = std::min(it.nsub, (len_q - it.q0 + MQ - 1) / MQ);

  // scratch: per sub-tile Qt, Ot [D][MQ]; St [NK][MQ]; Kb, Vb [NK][D]; Pp [NK/2][MQ] (Dp: P as bf16
  // pairs; Kb holds the block's bf16 K rows, then its V pairs)
  float* buf = scratch(prefill_scratch(D, nsub));
  if (!buf) return;  // the caller checked the same size first
  float* St = buf;
  float* Kb = St + NK * MQ;
  float* Vb = Kb + NK * D;
  float* Pp = Vb + NK * D;
  float* tiles = Pp + NK * MQ / 2;  // sub-tile s: Qt at tiles + 2*s*D*MQ, Ot right after
  const vf qk_scale = vset1(a.scale * kLog2e);  // Dp: applied to the scores

  const float ninf = -__builtin_inff();
  vf m[kMaxSub][QV], l[kMaxSub][QV], qi[kMaxSub][QV];
  int i0s[kMaxSub], mqs[kMaxSub], nvs[kMaxSub], los[kMaxSub], his[kMaxSub];
  int lo = len_k, hi = 0;
  for (int sb = 0; sb < nsub; ++sb) {
    const int i0 = it.q0 + sb * MQ, mq = std::min(MQ, len_q - i0);
    i0s[sb] = i0;
    mqs[sb] = mq;
    nvs[sb] = (mq + W - 1) / W;  // active query vectors
    visible_keys(len_k, len_q, i0, mq, a.causal, wl, &los[sb], &his[sb]);  // [j_lo, j_hi) of the sub-tile
    if (his[sb] > los[sb]) lo = std::min(lo, los[sb]), hi = std::max(hi, his[sb]);
    float* Qt = tiles + 2LL * sb * D * MQ;
    float* Ot = Qt + D * MQ;
    // Qt = scale * log2(e) * Q tile, transposed (Dp: the bf16 pairs as given); lanes past the tile are 0
    if constexpr (Dp)
      load_q_transposed<F32, false>([&](int i) { return (const float*)rows.template q_row<T>(it.seq, h, i0 + i); }, mq, D / 2, 1.f, Qt);
    else
      load_q_transposed<Dt>([&](int i) { return rows.template q_row<T>(it.seq, h, i0 + i); }, mq, D, a.scale * kLog2e, Qt);
    for (int d = 0; d < D; ++d)
      for (int v = 0; v < nvs[sb]; ++v) store(F32{}, Ot + d * MQ + v * W, vset1(0.f));
    for (int v = 0; v < QV; ++v) {
      m[sb][v] = vset1(ninf);
      l[sb][v] = vset1(0.f);
      qi[sb][v] = vadd(lane_index(), vset1((float)(i0 + v * W)));  // query index of each lane
    }
  }

  // the next item's query rows, spread over the (block, sub-tile) steps of this item's last key
  // block, and its first K/V block at the start of that block: issued earlier (a whole item ahead,
  // ~0.5 ms) they left L2 again before use under this item's own K/V stream
  const int nq1 = next ? std::min(next->q0 + next->nsub * MQ, rows.len_q(next->seq)) : 0;
  RowsPrefetch pq{[&](int r) { return rows.template q_row<T>(next->seq, next->head, next->q0 + r); },
                  next ? nq1 - next->q0 : 0, (D * (int)sizeof(T) + 63) / 64};
  const int last_block = (hi - 1) / NK * NK, pq_per = (pq.left() + nsub - 1) / nsub;

  vf ones[QV];  // the P.V rescale of a causal segment after a block's first
  for (int v = 0; v < QV; ++v) ones[v] = vset1(1.f);

  // key blocks aligned to absolute multiples of NK; every sub-tile that sees part of a block uses
  // the same K/V block while it is in cache
  for (int b = lo / NK * NK; b < hi; b += NK) {
    const int ub = std::max(b, lo), ue = std::min(b + NK, hi);  // union of the sub-tiles' ranges
    if (ue <= ub) continue;
    long long ldkp = D, ldvp = D;
    const float *Kp = Kb, *Vp = Kb + NK * D / 2;  // Dp: K rows [nk][D/2 pairs], V pairs [NK/2][D]
    const int pb = ub & ~1;                       // Dp: V pair 0 holds keys pb, pb + 1
    if constexpr (Dp) {
      bf16_pair* V2 = (bf16_pair*)Vp;
      kv.raw_rows(ub, ue, [&](int r, const T* kr, const T* vr) {
        memcpy((T*)Kb + (long long)r * D, kr, sizeof(T) * D);
        store_bf16_pair_half((const uint16_t*)vr, (ub + r) & 1, V2 + (long long)(ub + r - pb) / 2 * D, D);
      });
      if (ub & 1) store_bf16_pair_half(nullptr, 0, V2, D);                                  // key ub - 1
      if (ue & 1) store_bf16_pair_half(nullptr, 1, V2 + (long long)(ue - pb) / 2 * D, D);  // key ue
    } else {
      Kp = kv.k_block(ub, ue, Kb, ldkp);
      Vp = kv.v_block(ub, ue, Vb, ldvp);
    }

    // the next block's K and V rows go to L2 while this block computes (spread over the first
    // sub-tile's QK and PV loops)
    const int nb0 = std::min(b + NK, hi), nb1 = std::min(b + 2 * NK, hi);
    Prefetch pfk, pfv;
    if (nb1 > nb0) kv.prefetch(nb0, nb1, pfk, pfv);
    if (b == last_block && next) prefetch_first_block<Dt>(a, rows, src, *next);
    for (int sb = 0; sb < nsub; ++sb) {
      const int jb = std::max(b, los[sb]), je = std::min(b + NK, his[sb]), nk = je - jb;
      if (b == last_block) pq.step(pq_per);
      if (nk <= 0) continue;
      const int i0 = i0s[sb], mq = mqs[sb], nv = nvs[sb];
      float* Qt = tiles + 2LL * sb * D * MQ;
      float* Ot = Qt + D * MQ;
      // causal segments of the block: keys [s0, s1) are visible to query vectors v0 .. nv-1 only (a
      // vector's last query sees up to key i0 + W v + W - 1 + off), so a diagonal block computes the
      // scores and P.V products of those vectors alone; the skipped ones are masked, p = 0 exactly
      auto segments = [&](auto&& f) {
        for (int s0 = jb, v0 = 0; s0 < je; ++v0) {
          const int s1 = a.causal && v0 + 1 < nv ? std::clamp(i0 + off + (v0 + 1) * W, s0, je) : je;
          if (s1 > s0) f(s0, s1, v0);
          s0 = s1;
        }
      };
      vf mx[QV];
      for (int v = 0; v < QV; ++v) mx[v] = m[sb][v];
      segments([&](int s0, int s1, int v0) {
        with_vectors(nv - v0, [&](auto n) {
          if constexpr (Dp)
            qk_block<n, true>(Qt + v0 * W, D / 2, Kp + (s0 - ub) * D / 2, D / 2, s1 - s0, St + (s0 - jb) * MQ + v0 * W,
                              mx + v0, pfk, qk_scale);
          else
            qk_block<n>(Qt + v0 * W, D, Kp + (s0 - ub) * ldkp, ldkp, s1 - s0, St + (s0 - jb) * MQ + v0 * W, mx + v0, pfk);
        });
      });

      // masks: causal j > i + off; window j < i + off - wl (float compares are exact below 2^24)
      const bool mask_hi = a.causal && (je - 1 > i0 + off);
      const bool mask_lo = wl >= 0 && ((long long)jb < (long long)i0 + mq - 1 + off - wl);
      if (mask_hi || mask_lo) {
        for (int v = 0; v < nv; ++v) mx[v] = m[sb][v];  // the max over the visible scores only
        for (int j = 0; j < nk; ++j) {
          const vf jq = vset1((float)(jb + j - off));  // row i sees j iff jq <= i (causal), i <= jq + wl (window)
          for (int v = 0; v < nv; ++v) {
            vf sv = load(F32{}, St + j * MQ + v * W);
            if (mask_hi) sv = mask_lt(sv, qi[sb][v], jq);
            if (mask_lo) sv = mask_lt(sv, vadd(jq, vset1((float)wl)), qi[sb][v]);
            store(F32{}, St + j * MQ + v * W, sv);
            mx[v] = vmax(mx[v], sv);
          }
        }
      }

      // online softmax per query lane
      vf alpha[QV];
      for (int v = 0; v < nv; ++v) {
        const vf ms = finite_or_zero(mx[v]);
        alpha[v] = vexp2(vsub(m[sb][v], ms));
        // two chains (even and odd keys): the adds' latency, not their count, bounds this loop; two
        // named accumulators, not sum[j & 1], which the compiler kept on the stack (a store-to-load
        // round trip per key)
        auto p_at = [&](int j) {
          const vf p = vexp2(vsub(load(F32{}, St + j * MQ + v * W), ms));
          store(F32{}, St + j * MQ + v * W, p);
          return p;
        };
        vf even = vset1(0.f), odd = vset1(0.f);
        int j = 0;
        for (; j + 2 <= nk; j += 2) even = vadd(even, p_at(j)), odd = vadd(odd, p_at(j + 1));
        if (j < nk) even = vadd(even, p_at(j));
        l[sb][v] = vadd(vmul(l[sb][v], alpha[v]), vadd(even, odd));
        m[sb][v] = mx[v];
      }
      // Dp: P as bf16 pairs of keys from the even key pj at or below jb (zero outside [jb, je))
      const int pj = jb & ~1;
      if constexpr (Dp)
        for (int j0 = pj; j0 < je; j0 += 2)
          for (int v = 0; v < nv; ++v) {
            const vf lo = j0 >= jb ? load(F32{}, St + (j0 - jb) * MQ + v * W) : vset1(0.f);
            const vf hi = j0 + 1 < je ? load(F32{}, St + (j0 + 1 - jb) * MQ + v * W) : vset1(0.f);
            store(F32{}, Pp + (j0 - pj) / 2 * MQ + v * W, bf16_pairs(lo, hi));
          }
      // alpha scales Ot once, in the first segment; a vector that segment skips saw no key of the
      // block, so its alpha is exactly 1 (or its Ot still 0). Dp: segments in whole pairs, each
      // boundary rounded up to an even key (a key moved into the segment before is seen by none of
      // that segment's extra vectors: p = 0 exactly)
      segments([&](int s0, int s1, int v0) {
        const vf* scale_o = (s0 == jb ? alpha : ones) + v0;
        with_vectors(nv - v0, [&](auto n) {
          if constexpr (Dp) {
            const int m0 = s0 == jb ? pj : (s0 + 1) & ~1, m1 = (s1 + 1) & ~1;
            if (m1 > m0)
              pv_block<n, true>(Pp + (m0 - pj) / 2 * MQ + v0 * W, (m1 - m0) / 2, Vp + (long long)(m0 - pb) / 2 * D, D, D,
                                Ot + v0 * W, scale_o, pfv);
          } else {
            pv_block<n>(St + (s0 - jb) * MQ + v0 * W, s1 - s0, Vp + (s0 - ub) * ldvp, ldvp, D, Ot + v0 * W, scale_o, pfv);
          }
        });
      });
    }
  }

  // out = Ot / l (transposed back); lse (where the rows have one) = m ln2 + log(l), -inf and zeros
  // where no key was seen
  for (int sb = 0; sb < nsub; ++sb) {
    const int i0 = i0s[sb], mq = mqs[sb];
    const float* Ot = tiles + 2LL * sb * D * MQ + D * MQ;
    float ml[2 * MQ];
    for (int v = 0; v < QV; ++v) {
      store(F32{}, ml + v * W, m[sb][v]);
      store(F32{}, ml + MQ + v * W, l[sb][v]);
    }
    float inv[MQ];
    for (int i = 0; i < mq; ++i) {
      const float li = ml[MQ + i];
      inv[i] = li > 0.f ? 1.0f / li : 0.f;
      if (float* L = rows.lse_row(it.seq, h, i0 + i)) *L = li > 0.f ? ml[i] * kLn2 + logf(li) : ninf;
    }
    store_o_transposed<Dt>(Ot, inv, mq, D, a.stream_out, [&](int i) { return rows.template out_row<T>(it.seq, h, i0 + i); });
  }
}

#ifdef __AVX512BF16__
// bf16 runs through the dot-product tiles on cores where vdpbf16ps issues as fast as an FMA (AMD
// Zen 4 and later; on Intel's, at half that rate, it would gain nothing)
inline bool bf16_dot_tiles() { return use_bf16_hw() && amd_family >= 0x19; }
#endif

template <class Dt, class Rows, class Src>
void run_tile(const TileArgs& a, const Rows& rows, const Src& src, const Item& it, const Item* next) {
#ifdef __AVX512BF16__
  if constexpr (std::is_same_v<Dt, BF16>)
    if (bf16_dot_tiles()) return tile<Dt, true>(a, rows, src, it, next);
#endif
  tile<Dt, false>(a, rows, src, it, next);
}

// The first query tile and key block of an item, into L2, issued while the item before it
// computes. Measured (C harness, 2 threads): a 7-sequence prefill of 300 tokens 2% faster with it,
// s2048 and temporal video attention (whose next item's rows mostly share lines with this one's)
// the same within noise.
template <class Dt, class Rows, class Src>
void prefetch_item(const TileArgs& a, const Rows& rows, const Src& src, const Item& it) {
  using T = typename Dt::T;
  const int mq = std::min(MQ, rows.len_q(it.seq) - it.q0);
  for (int i = 0; i < mq; ++i) prefetch_l2(rows.template q_row<T>(it.seq, it.head, it.q0 + i), a.D * (int)sizeof(T));
  prefetch_first_block<Dt>(a, rows, src, it);
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

#include "attention_short.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

// Runs every tile of the batch over the pool. Work item = (sequence, head, up to kMaxSub sub-tiles
// of MQ queries). Bigger items read each K/V block once for more queries; smaller ones when there
// would be too few items for the threads. A row's arithmetic is the same in any grouping.
template <class Rows, class Src>
int run_prefill(int dtype, const TileArgs& args, const Rows& rows, const Src& src, int batch) {
  long long tiles_total = 0, tokens = 0, tile_keys = 0;  // tile_keys: the keys each tile sees, summed
  for (int b = 0; b < batch; ++b) {
    const int lq = rows.len_q(b), lk = src.len_k(b);
    tokens += lq;
    for (int i0 = 0; i0 < lq; i0 += MQ) {
      int lo, hi;
      visible_keys(lk, lq, i0, std::min(MQ, lq - i0), args.causal, args.window, &lo, &hi);
      tiles_total += args.hq, tile_keys += (long long)args.hq * std::max(0, hi - lo);
    }
  }
  TileArgs a = args;
  a.stream_out = tokens * a.hq * a.D * dtype_size(dtype) >= pool_threads() * l2_bytes;
  // as many sub-tiles as keep their Qt and Ot (2 D MQ floats each) in a quarter of L2 across key
  // blocks, beside the K/V blocks: each K/V block is fetched once for more queries (d128: 8 rather
  // than 4 on a 2 MiB L2, prefill causal h8 s1024/s2048 2-3% faster, non-causal 4%; 4 as before on a
  // 1 MiB L2; AVX2's 16-query tiles: 16 on a 1 MiB L2); fewer when there would be too few items:
  // at least 8 a thread, for the pool to balance, or 4 where the K/V a tile sees outgrow half an L2
  // (a prompt's chunk after a long cache: every item reads them from memory, so fewer, larger items
  // read less; chunks of 128 or 256 queries after up to 1920 cached keys, h8 d128, 2 threads: 3-8%
  // faster; a whole s256 prefill, its K/V in L2, ran 6% slower with 4 a thread)
  int nsub = (int)std::clamp<long long>(l2_bytes / 4 / (2LL * a.D * MQ * (long long)sizeof(float)), 1, kMaxSub);
  const long long tile_kv_bytes = tiles_total ? tile_keys / tiles_total * 2 * a.D * dtype_size(dtype) : 0;
  const long long per_thread = tile_kv_bytes > l2_bytes / 2 ? 4 : 8;
  while (nsub > 1 && tiles_total / nsub < per_thread * pool_threads()) --nsub;
  std::vector<Item> items;
  for (int b = 0; b < batch; ++b) {
    const int lq = rows.len_q(b), lk = src.len_k(b);
    const bool short_seq = short_sequence(lq, lk);  // one item per head: run_short takes every query
    for (int i0 = 0; i0 < lq; i0 += short_seq ? lq : nsub * MQ) {
      const int mq = std::min(nsub * MQ, lq - i0);
      int lo, hi;
      visible_keys(lk, lq, i0, mq, a.causal, a.window, &lo, &hi);
      const long long cost = std::max(0LL, (long long)hi - lo) * ((mq + MQ - 1) / MQ) + 16;  // + fixed per-tile work
      for (int h = 0; h < a.hq; ++h) items.push_back({b, h, i0, nsub, cost});
    }
  }
  // heaviest first for load balance; the order never changes a row's result
  std::stable_sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.cost > y.cost; });
  const long long need = std::max(prefill_scratch(a.D, nsub), short_scratch(a.D));
  int failed = 0;
  // each thread takes items one at a time (load balance) and claims its next item before it runs
  // the current one, so that the next one's rows can go to L2 meanwhile (run_tile: over its last
  // key block; a short item: at once): with one item per claim and nothing known ahead, every
  // item's first loads missed (s512, perf: run_tile 21.7 -> 19.3% of the time)
  std::atomic<long long> next{0};
  const long long n = (long long)items.size();
  auto body = [&](long long, long long) {
    if (!scratch(need)) {
      __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
      return;
    }
    for (long long i = next.fetch_add(1, std::memory_order_relaxed); i < n;) {
      const long long j = next.fetch_add(1, std::memory_order_relaxed);
      dispatch(dtype, [&](auto d) {
        const Item& it = items[i];
        if (short_sequence(rows.len_q(it.seq), src.len_k(it.seq))) {
          if (j < n) prefetch_item<decltype(d)>(a, rows, src, items[j]);
          run_short<decltype(d)>(a, rows, src, it);
        } else {
          run_tile<decltype(d)>(a, rows, src, it, j < n ? &items[j] : nullptr);
        }
      });
      i = j;
    }
    if (a.stream_out) _mm_sfence();  // streamed rows visible before this thread reports done
  };
  parallel_for(pool_threads(), 1, body);
  return failed ? GATUN_CPU_ESHAPE : GATUN_CPU_OK;
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
