// Attention of short sequences with small heads (at most kLaneLen queries and keys, head dim at most
// kLaneMaxD), W sequences at a time: temporal video attention runs 13-16 frames per sequence with
// heads of 64-72, where a tile (attention_tiles.h: queries along the vector lanes, all sharing each
// broadcast key) fills one of its query vectors, and attention_short.h (lanes over the head dim)
// wastes the tail of the last vector of d and reduces every dot product across lanes. Here the
// vector lanes run over W sequences instead, one (sequence, head) pair per lane: each lane's Q, K and V rows are gathered and transposed into [row][d][lane], so
// every score, softmax and P.V step is a vertical vector op with no broadcasts and no horizontal
// reductions, and temporal video attention gathers W rows that lie side by side in memory.
// Exact softmax (all keys at once), scores in base 2 as in the tiles.
// A lane's arithmetic depends only on its own sequence: sums over d and over keys run in index
// order, keys past a lane's length or outside its mask contribute exact zeros. So a sequence gives
// the same bits in any group of lanes, and prefill and video attention (which both route a
// sequence here by its lengths alone) stay equal bit for bit on the same sequence.
// Included by attention_tiles.h after the tiles (it uses their TileArgs, masks and constants).
#ifndef GATUN_CPU_ATTENTION_LANES_H
#define GATUN_CPU_ATTENTION_LANES_H

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr int kLaneLen = 32;   // queries and keys of a sequence
constexpr int kLaneMaxD = 80;  // measured (C harness, AVX-512, 2 threads): against attention_short.h,
                               // 1.1-1.6x faster at d64-72 (13-24 tokens), 5-20% slower at d96-128
constexpr int kLaneBlock = 4;  // register blocks of up to 4 x 4 (queries x keys, queries x d)

inline bool lane_sequence(int len_q, int len_k, int D) { return len_q <= kLaneLen && len_k <= kLaneLen && D <= kLaneMaxD; }

// up to W (sequence, head) pairs, one per lane
struct LaneGroup {
  int n;
  int seq[W], head[W];
};

// scratch floats: Qt (then Ot), Kt, Vt [rows][D][W] and St [queries][keys][W]
inline long long lane_scratch(int D) { return (3LL * kLaneLen * D + kLaneLen * kLaneLen) * W; }

// dst[i][d][l] = mul * element d of row_of(l, i) for i < nrows, zero where row_of gives nullptr;
// W rows at a time through W x W register transposes
template <class Dt, class RowOf>
VI void gather_transposed(float* dst, int nrows, int D, float mul, RowOf row_of) {
  using T = typename Dt::T;
  for (int i = 0; i < nrows; ++i) {
    const T* p[W];
    for (int l = 0; l < W; ++l) p[l] = row_of(l, i);
    for (int d = 0; d < D; d += W) {
      const int nd = std::min(W, D - d);
      vf r[W];
      for (int l = 0; l < W; ++l) r[l] = !p[l] ? vset1(0.f) : nd == W ? load(Dt{}, p[l] + d) : load_tail(Dt{}, p[l] + d, nd, 0.f);
      transpose(r);
      for (int c = 0; c < nd; ++c) store(F32{}, dst + ((long long)i * D + d + c) * W, vmul(r[c], vset1(mul)));
    }
  }
}

// C[x][y] = sum over t < n, in order, of A[x][t] * B[t][y] for x < X, y < Y: lane-wise products
// of the group's [row][col][lane] arrays (a step of t is one lane vector); the strides are in vectors
template <int X, int Y>
VI void lane_products(const float* A, long long ax, long long at, const float* Bm, long long by, long long bt, int n,
                      float* C, long long cx, long long cy) {
  vf acc[X][Y];
  for (int x = 0; x < X; ++x)
    for (int y = 0; y < Y; ++y) acc[x][y] = vset1(0.f);
  for (int t = 0; t < n; ++t) {
    vf av[X], bv[Y];
    for (int x = 0; x < X; ++x) av[x] = load(F32{}, A + (x * ax + t * at) * W);
    for (int y = 0; y < Y; ++y) bv[y] = load(F32{}, Bm + (y * by + t * bt) * W);
    for (int x = 0; x < X; ++x)
      for (int y = 0; y < Y; ++y) acc[x][y] = vfma(av[x], bv[y], acc[x][y]);
  }
  for (int x = 0; x < X; ++x)
    for (int y = 0; y < Y; ++y) store(F32{}, C + (x * cx + y * cy) * W, acc[x][y]);
}

// f(std::integral_constant<int, k>) for k = min(n, kLaneBlock), n >= 1
template <class F>
VI void with_block(int n, F&& f) {
  switch (std::min(n, kLaneBlock)) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, kLaneBlock>{}); break;
  }
}

// Every row a group reads, into L2, issued while the group before it computes: the rows of one
// lane are a frame apart in temporal video attention, where no hardware prefetcher follows them.
template <class Dt, class Rows, class Src>
void prefetch_group(const TileArgs& a, const Rows& rows, const Src& src, const LaneGroup& g) {
  using T = typename Dt::T;
  const int bytes = a.D * (int)sizeof(T);
  for (int l = 0; l < g.n; ++l) {
    const int lq = rows.len_q(g.seq[l]), lk = src.len_k(g.seq[l]);
    for (int i = 0; i < lq; ++i) prefetch_l2(rows.template q_row<T>(g.seq[l], g.head[l], i), bytes);
    const auto kv = src.template at<Dt>(g.seq[l], g.head[l] / (a.hq / a.hkv));
    for (int j = 0; j < lk; ++j) prefetch_l2(kv.k_row(j), bytes), prefetch_l2(kv.v_row(j), bytes);
  }
}

template <class Dt, class Rows, class Src>
void run_lanes(const TileArgs& a, const Rows& rows, const Src& src, const LaneGroup& g) {
  using T = typename Dt::T;
  const int D = a.D, G = a.hq / a.hkv;
  alignas(64) float lq[W], lk[W], off[W];
  int LQ = 0, LK = 0;
  decltype(src.template at<Dt>(0, 0)) kv[W];
  for (int l = 0; l < W; ++l) {
    const bool on = l < g.n;
    const int q = on ? rows.len_q(g.seq[l]) : 0, k = on ? src.len_k(g.seq[l]) : 0;
    lq[l] = (float)q, lk[l] = (float)k, off[l] = (float)(k - q);
    LQ = std::max(LQ, q), LK = std::max(LK, k);
    if (on) kv[l] = src.template at<Dt>(g.seq[l], g.head[l] / G);
  }
  float* Qt = scratch(lane_scratch(D));  // checked by the caller
  if (!Qt) return;
  float* Kt = Qt + (long long)LQ * D * W;
  float* Vt = Kt + (long long)LK * D * W;
  float* St = Vt + (long long)LK * D * W;  // [LQ][LK][W]

  gather_transposed<Dt>(Qt, LQ, D, a.scale * kLog2e, [&](int l, int i) {
    return l < g.n && i < lq[l] ? rows.template q_row<T>(g.seq[l], g.head[l], i) : nullptr;
  });
  gather_transposed<Dt>(Kt, LK, D, 1.f, [&](int l, int j) { return l < g.n && j < lk[l] ? kv[l].k_row(j) : nullptr; });
  gather_transposed<Dt>(Vt, LK, D, 1.f, [&](int l, int j) { return l < g.n && j < lk[l] ? kv[l].v_row(j) : nullptr; });

  // St[i][j] = q_i . k_j per lane, the sum over d in order
  for (int i = 0; i < LQ; i += kLaneBlock)
    for (int j = 0; j < LK; j += kLaneBlock)
      with_block(LQ - i, [&](auto X) {
        with_block(LK - j, [&](auto Y) {
          lane_products<X, Y>(Qt + (long long)i * D * W, D, 1, Kt + (long long)j * D * W, D, 1, D, St + ((long long)i * LK + j) * W, LK, 1);
        });
      });

  // softmax per (query, lane) over the keys it sees: j < len_k, causal j - off <= i, window
  // i <= j - off + wl (float compares are exact at these sizes)
  const vf lkv = load(F32{}, lk), offv = load(F32{}, off), ninf = vset1(-__builtin_inff());
  alignas(64) float m[kLaneLen][W], sum[kLaneLen][W];
  for (int i = 0; i < LQ; ++i) {
    const vf iv = vset1((float)i);
    float* s = St + (long long)i * LK * W;
    vf mx = ninf;
    for (int j = 0; j < LK; ++j) {
      const vf jq = vsub(vset1((float)j), offv);
      vf sv = mask_lt(load(F32{}, s + j * W), lkv, vset1((float)(j + 1)));
      if (a.causal) sv = mask_lt(sv, iv, jq);
      if (a.window >= 0) sv = mask_lt(sv, vadd(jq, vset1((float)a.window)), iv);
      store(F32{}, s + j * W, sv);
      mx = vmax(mx, sv);
    }
    const vf ms = finite_or_zero(mx);
    vf l = vset1(0.f);
    for (int j = 0; j < LK; ++j) {
      const vf p = vexp2(vsub(load(F32{}, s + j * W), ms));
      store(F32{}, s + j * W, p);
      l = vadd(l, p);
    }
    store(F32{}, m[i], mx);
    store(F32{}, sum[i], l);
  }

  // Ot[i][d] = sum over keys of p_ij v_jd per lane, in key order (Ot takes Qt's place; D is a
  // multiple of 8)
  float* Ot = Qt;
  for (int i = 0; i < LQ; i += kLaneBlock)
    for (int d = 0; d < D; d += kLaneBlock)
      with_block(LQ - i, [&](auto X) {
        lane_products<X, kLaneBlock>(St + (long long)i * LK * W, LK, 1, Vt + (long long)d * W, 1, D, LK, Ot + ((long long)i * D + d) * W, D, 1);
      });

  // out = O / l, transposed back to each lane's rows; lse = m ln2 + log(l), -inf and zeros where
  // no key was visible
  for (int i = 0; i < LQ; ++i) {
    alignas(64) float inv[W];
    for (int l = 0; l < W; ++l) inv[l] = sum[i][l] > 0.f ? 1.0f / sum[i][l] : 0.f;
    const vf invv = load(F32{}, inv);
    const float* o = Ot + (long long)i * D * W;
    T* out[W];
    for (int l = 0; l < W; ++l) out[l] = l < g.n && i < lq[l] ? rows.template out_row<T>(g.seq[l], g.head[l], i) : nullptr;
    for (int d = 0; d < D; d += W) {
      const int nd = std::min(W, D - d);
      vf r[W];
      for (int c = 0; c < W; ++c) r[c] = c < nd ? vmul(load(F32{}, o + (long long)(d + c) * W), invv) : vset1(0.f);
      transpose(r);
      for (int l = 0; l < W; ++l)
        if (out[l]) {
          if (nd == W) store(Dt{}, out[l] + d, r[l]);
          else store_tail(Dt{}, out[l] + d, r[l], nd);
        }
    }
    for (int l = 0; l < g.n; ++l)
      if (i < lq[l])
        if (float* L = rows.lse_row(g.seq[l], g.head[l], i)) *L = sum[i][l] > 0.f ? m[i][l] * kLn2 + logf(sum[i][l]) : -__builtin_inff();
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
