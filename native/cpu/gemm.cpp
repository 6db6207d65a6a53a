// Linear-layer GEMM: Y[M,N] = X[M,K] . W[N,K]^T (+ bias[N]), fp32 accumulation, Y rounded once.
//
// Numerics (the contract that makes it thread- and batch-invariant): every output element is one
// fp32 FMA chain  acc = fma(x[m,k], w[n,k], acc)  over k = 0, 1, ..., K-1 starting from +0.0f,
// then y = acc + bias[n] (fp32) rounded once to the output dtype. f16/bf16 inputs widen to fp32
// exactly. Nothing ever splits K, so the result of an element depends only on its row of X and
// its row of W: not on M (decode or prefill path), not on the thread count, not on the blocking,
// and not on the ISA (the AVX2 and AVX-512 builds give the same bits; for bf16 output except
// subnormal results, which vec.h's hardware bf16 conversion flushes to zero).
//
// Design (BLIS-like, vectors along N, broadcasts along M):
//   * a task is an NC-wide block of N (times a group of M rows when N alone has too few blocks);
//     tasks go to the pool dynamically, which cannot change results (see above).
//   * W is packed, transposed and widened to fp32, into NR-wide panels [k][NR] (16x16 / 8x8
//     register transposes); X is packed row-wise to fp32 in MR-row micro-panels with row stride KC.
//   * micro-kernel: MR x NR fp32 accumulators (AVX-512 14 x 32, AVX2 6 x 16), kc steps of one
//     NR-vector pair load + MR broadcasts; C tiles in a small per-task fp32 scratch carry the
//     chain across KC blocks; an epilogue adds bias and converts.
//   * X is packed once per call (per M chunk of <= 32 MiB of fp32) into a shared buffer before
//     the tasks run; micro-panels split an MC block into near-equal pieces (16 rows = 8 + 8).
//   * decode (the whole M range of a task fits one MC block): W is streamed once, panel by panel
//     (each W row read sequentially). M <= 4: W is transposed in registers and fed straight to
//     the FMAs (no packed copy); 5 <= M <= MC: each KC x NR chunk is packed into an L1-resident
//     buffer right before the micro-kernels use it.
//   * prefill: the task's full-K W panel is packed once (during the first MC block) and reused
//     for the later ones; per KC block an X micro-panel stays in L1 while the W chunks stream
//     from L2.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <type_traits>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr int NR = 2 * W;  // columns of N per micro-tile (two vectors)
#ifdef GATUN_AVX512
constexpr int MR = 14;     // 28 accumulators + 2 W vectors + 1 broadcast
constexpr int MC = 14 * 12;
#else
constexpr int MR = 6;      // 12 accumulators
constexpr int MC = 6 * 24;
#endif
constexpr int KC = 256;    // KC x NR fp32 W chunk = 32 KiB (AVX-512) / 16 KiB (AVX2)
constexpr int NC_MAX = 256;
constexpr long long PANEL_FLOATS = 1LL << 20;  // cap on the reused full-K W panel (4 MiB)

// ------------------------------------------------------------------ packing
// W rows [n0, n0 + nvalid) (nvalid <= NR), k in [k0, k0 + kc) -> dst[k * NR + j] (fp32); rows
// past nvalid are zero.
template <class D>
void pack_w(const typename D::T* w, long long ldw, long long n0, int nvalid, long long k0, int kc, float* dst) {
  using T = typename D::T;
#ifdef GATUN_AVX512
  if (std::is_same<D, BF16>::value && nvalid == NR && kc % (2 * W) == 0) {
    // bf16 -> fp32 without a shuffle: a 32-bit lane holds (k even, k odd); k even is the lane
    // shifted left 16, k odd the lane with its low half cleared. Transpose each: columns kb + 2c
    // and kb + 2c + 1.
    const uint16_t* base = (const uint16_t*)w + n0 * ldw + k0;
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int kb = 0; kb < kc; kb += 2 * W) {
      for (int h = 0; h < 2; ++h) {
        for (int odd = 0; odd < 2; ++odd) {  // one half at a time: 16 live vectors, no spills
          vf r[W];
          const uint16_t* rp = base + (long long)h * W * ldw + kb;
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i, rp += ldw) {
            const __m512i v = _mm512_loadu_si512(rp);
            r[i] = _mm512_castsi512_ps(odd ? _mm512_and_si512(v, hi) : _mm512_slli_epi32(v, 16));
          }
          transpose(r);
#pragma GCC unroll 16
          for (int c = 0; c < W; ++c) store(F32{}, dst + (long long)(kb + 2 * c + odd) * NR + h * W, r[c]);
        }
      }
    }
    return;
  }
#endif
  if (nvalid == NR && kc % W == 0) {  // full chunk: no per-row checks
    const T* base = w + n0 * ldw + k0;
    for (int kb = 0; kb < kc; kb += W) {
      for (int h = 0; h < 2; ++h) {
        vf r[W];
        const T* p = base + (long long)h * W * ldw + kb;
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i, p += ldw) r[i] = load(D{}, p);
        transpose(r);
#pragma GCC unroll 16
        for (int c = 0; c < W; ++c) store(F32{}, dst + (long long)(kb + c) * NR + h * W, r[c]);
      }
    }
    return;
  }
  for (int kb = 0; kb < kc; kb += W) {
    const int kw = kc - kb < W ? kc - kb : W;
    for (int h = 0; h < 2; ++h) {
      vf r[W];
      for (int i = 0; i < W; ++i) {
        const int row = h * W + i;
        if (row < nvalid) {
          const T* p = w + (n0 + row) * ldw + k0 + kb;
          r[i] = kw == W ? load(D{}, p) : load_tail(D{}, p, kw, 0.f);
        } else {
          r[i] = vset1(0.f);
        }
      }
      transpose(r);
      for (int c = 0; c < kw; ++c) store(F32{}, dst + (long long)(kb + c) * NR + h * W, r[c]);
    }
  }
}

// One X row, all of K, into an MC-row block laid out [p][mcp][KC] (p = KC block, mcp = the block's
// rows rounded up to MR; micro-panels of MR rows with row stride KC; padding rows never read).
template <class D>
void pack_x_row(const typename D::T* xrow, long long K, long long mcp, int i, float* block) {
  for (long long p0 = 0, p = 0; p0 < K; p0 += KC, ++p) {
    const int kc = K - p0 < KC ? (int)(K - p0) : KC;
    const typename D::T* s = xrow + p0;
    float* d = block + (p * mcp + i) * KC;
    int k = 0;
    for (; k + W <= kc; k += W) store(F32{}, d + k, load(D{}, s + k));
    if (k < kc) store_tail(F32{}, d + k, load_tail(D{}, s + k, kc - k, 0.f), kc - k);
  }
}

// ------------------------------------------------------------------ micro-kernels
// c[i * NR + j] (+)= sum_k a[i * KC + k] * b[k * NR + j], k ascending, one FMA chain per element.
template <int R>
__attribute__((noinline)) void ukr(int kc, const float* __restrict a, const float* __restrict b,
                                   float* __restrict c, long long ldc, bool first) {
  vf acc[R][2];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    acc[i][0] = first ? vset1(0.f) : load(F32{}, c + i * ldc);
    acc[i][1] = first ? vset1(0.f) : load(F32{}, c + i * ldc + W);
  }
  for (int k = 0; k < kc; ++k) {
    const vf b0 = load(F32{}, b + k * NR), b1 = load(F32{}, b + k * NR + W);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const vf ai = vset1(a[i * KC + k]);
      acc[i][0] = vfma(ai, b0, acc[i][0]);
      acc[i][1] = vfma(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    store(F32{}, c + i * ldc, acc[i][0]);
    store(F32{}, c + i * ldc + W, acc[i][1]);
  }
}

// Two adjacent panels at once (b0p, b1p; c0, c1 tiles): 4 R chains per k for small R (decode).
template <int R>
__attribute__((noinline)) void ukr2(int kc, const float* __restrict a, const float* __restrict bp0,
                                    const float* __restrict bp1, float* __restrict c0, float* __restrict c1,
                                    long long ldc, bool first) {
  vf acc[R][4];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < 2; ++j) {
      acc[i][j] = first ? vset1(0.f) : load(F32{}, c0 + i * ldc + j * W);
      acc[i][2 + j] = first ? vset1(0.f) : load(F32{}, c1 + i * ldc + j * W);
    }
  for (int k = 0; k < kc; ++k) {
    const vf b0 = load(F32{}, bp0 + k * NR), b1 = load(F32{}, bp0 + k * NR + W);
    const vf b2 = load(F32{}, bp1 + k * NR), b3 = load(F32{}, bp1 + k * NR + W);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const vf ai = vset1(a[i * KC + k]);
      acc[i][0] = vfma(ai, b0, acc[i][0]);
      acc[i][1] = vfma(ai, b1, acc[i][1]);
      acc[i][2] = vfma(ai, b2, acc[i][2]);
      acc[i][3] = vfma(ai, b3, acc[i][3]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < 2; ++j) {
      store(F32{}, c0 + i * ldc + j * W, acc[i][j]);
      store(F32{}, c1 + i * ldc + j * W, acc[i][2 + j]);
    }
}
constexpr int R2_MAX = 4;  // ukr2 for tiles of at most this many rows

// Decode with R <= 4 rows of X: transposes W in registers and feeds the FMAs directly (no packed
// chunk). P full panels, R x 2P chains; the same chain per element as ukr: k ascending.
template <class D, int P, int R>
__attribute__((noinline)) void gemv(const typename D::T* __restrict w, long long ldw, long long n0, long long k0,
                                    int kc, const float* __restrict xa, float* const* c, long long ldc, bool first) {
  using T = typename D::T;
  vf acc[R][2 * P];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int g = 0; g < 2 * P; ++g)
      acc[i][g] = first ? vset1(0.f) : load(F32{}, c[g / 2] + i * ldc + (g % 2) * W);
  const T* base = w + n0 * ldw + k0;
  for (int kb = 0; kb < kc; kb += W) {
#pragma GCC unroll 4
    for (int g = 0; g < 2 * P; ++g) {
      vf r[W];
      const T* p = base + (long long)g * W * ldw + kb;
#pragma GCC unroll 16
      for (int i = 0; i < W; ++i, p += ldw) r[i] = load(D{}, p);
      transpose(r);
#pragma GCC unroll 16
      for (int q = 0; q < W; ++q)
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i) acc[i][g] = vfma(vset1(xa[i * KC + kb + q]), r[q], acc[i][g]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int g = 0; g < 2 * P; ++g) store(F32{}, c[g / 2] + i * ldc + (g % 2) * W, acc[i][g]);
}
using Gemv = void (*)(const void*, long long, long long, long long, int, const float*, float* const*, long long,
                     bool);
template <class D, int P, int R>
void gemv_erased(const void* w, long long ldw, long long n0, long long k0, int kc, const float* xa, float* const* c,
                 long long ldc, bool first) {
  gemv<D, P, R>((const typename D::T*)w, ldw, n0, k0, kc, xa, c, ldc, first);
}
// [rows 1..4] -> kernel and how many panels it takes
template <class D>
struct GemvTable {
  static constexpr Gemv f[5] = {nullptr, &gemv_erased<D, 2, 1>, &gemv_erased<D, 1, 2>, &gemv_erased<D, 1, 3>,
                                &gemv_erased<D, 1, 4>};
  static constexpr int panels[5] = {0, 2, 1, 1, 1};
};

using Ukr = void (*)(int, const float*, const float*, float*, long long, bool);
using Ukr2 = void (*)(int, const float*, const float*, const float*, float*, float*, long long, bool);
template <int... I>
struct Tables {
  static constexpr Ukr one[] = {nullptr, &ukr<I + 1>...};
};
#ifdef GATUN_AVX512
using UkrTable = Tables<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13>;
#else
using UkrTable = Tables<0, 1, 2, 3, 4, 5>;
#endif
constexpr Ukr2 kUkr2[R2_MAX + 1] = {nullptr, &ukr2<1>, &ukr2<2>, &ukr2<3>, &ukr2<4>};

// ------------------------------------------------------------------ driver
struct Args {
  const void* x;
  long long ldx;
  const void* w;
  long long ldw;
  const void* bias;
  void* y;
  long long ldy, M, N, K;
  long long nc;      // columns per task (multiple of NR)
  long long nblk;    // column blocks
  long long mgrp;    // rows per task group (multiple of MC, or all of the chunk)
  long long c0, c1;  // the M chunk being computed; its X is packed in xs, MC-row blocks of xblk floats
  const float* xs;
  long long xblk;
};

inline long long rup(long long a, long long b) { return (a + b - 1) / b * b; }

// Slow path with the same arithmetic (one fmaf chain per element, k ascending), used only if
// scratch memory cannot be had: identical results, never a crash.
template <class D>
float to_f32(typename D::T v);
template <>
inline float to_f32<F32>(float v) { return v; }
template <>
inline float to_f32<F16>(uint16_t v) { return _cvtsh_ss(v); }
template <>
inline float to_f32<BF16>(uint16_t v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

template <class D>
void epilogue_row(const Args& a, const float* acc_row_tiles, long long tile_stride, long long m, long long n0,
                  long long nc) {
  using T = typename D::T;
  T* y = (T*)a.y + m * a.ldy;
  const T* bias = (const T*)a.bias;
  for (long long j0 = 0; j0 < nc; j0 += NR) {
    const float* c = acc_row_tiles + (j0 / NR) * tile_stride;
    for (int h = 0; h < 2; ++h) {
      const long long col = n0 + j0 + h * W;
      const long long left = nc - (j0 + h * W);
      if (left <= 0) break;
      vf v = load(F32{}, c + h * W);
      if (left >= W) {
        if (bias) v = vadd(v, load(D{}, bias + col));
        store(D{}, y + col, v);
      } else {
        if (bias) v = vadd(v, load_tail(D{}, bias + col, left, 0.f));
        store_tail(D{}, y + col, v, left);
      }
    }
  }
}

template <class D>
void task_fallback(const Args& a, long long m0, long long m1, long long n0, long long n1) {
  using T = typename D::T;
  const T* x = (const T*)a.x;
  const T* w = (const T*)a.w;
  const T* bias = (const T*)a.bias;
  for (long long m = m0; m < m1; ++m) {
    for (long long n0b = n0; n0b < n1; n0b += NR) {
      alignas(64) float tile[NR];
      const long long nn = n1 - n0b < NR ? n1 - n0b : NR;
      for (long long j = 0; j < NR; ++j) {
        float acc = 0.f;
        if (j < nn)
          for (long long k = 0; k < a.K; ++k)
            acc = fmaf(to_f32<D>(x[m * a.ldx + k]), to_f32<D>(w[(n0b + j) * a.ldw + k]), acc);
        tile[j] = acc;
      }
      (void)bias;
      epilogue_row<D>(a, tile, NR, m, n0b, nn);
    }
  }
}

template <class D>
void run_task(const Args& a, long long task) {
  using T = typename D::T;
  const long long jb = task % a.nblk, mg = task / a.nblk;
  const long long n0 = jb * a.nc, nc = a.N - n0 < a.nc ? a.N - n0 : a.nc;
  const long long m_begin = a.c0 + mg * a.mgrp, m_end = a.c1 - m_begin < a.mgrp ? a.c1 : m_begin + a.mgrp;
  const long long K = a.K;
  const int np = (int)((nc + NR - 1) / NR);
  const long long nkb = (K + KC - 1) / KC;
  const long long nic = (m_end - m_begin + MC - 1) / MC;
  const bool reuse = nic > 1;

  // scratch: C rows [MC][np * NR], W (full-K panel or one chunk); X comes packed in a.xs
  const long long c_fl = (long long)MC * np * NR;
  const long long w_fl = reuse ? (long long)np * nkb * KC * NR : 2LL * KC * NR;
  float* s = scratch(c_fl + w_fl);
  if (!s) {
    task_fallback<D>(a, m_begin, m_end, n0, n0 + nc);
    return;
  }
  float* cbuf = s;
  float* wbuf = s + c_fl;
  const long long ldc = (long long)np * NR;

  for (long long ic = 0; ic < nic; ++ic) {
    const long long m0 = m_begin + ic * MC;
    const int mc = (int)(m_end - m0 < MC ? m_end - m0 : MC);
    const long long mcp = rup(mc, MR);
    // micro-panels: mc rows in nir near-equal pieces of <= MR rows (16 = 8 + 8, not 14 + 2)
    const int nir = (int)(mcp / MR), base_rows = mc / nir, extra = mc % nir;
    auto piece = [&](int ir, int& r0) {
      r0 = ir * base_rows + (ir < extra ? ir : extra);
      return base_rows + (ir < extra ? 1 : 0);
    };
    const float* xbuf = a.xs + (m0 - a.c0) / MC * a.xblk;
    if (!reuse) {
      // decode order: panel by panel, each W row read once and sequentially along K
      const bool pair = mc <= R2_MAX;
      for (int jr = 0; jr < np; jr += pair ? 2 : 1) {
        const bool two = pair && jr + 1 < np;
        for (long long p = 0; p < nkb; ++p) {
          const long long k0 = p * KC;
          const int kc = (int)(K - k0 < KC ? K - k0 : KC);
          const float* xa = xbuf + p * mcp * KC;
          if (mc <= 4 && kc % W == 0 && nc - (long long)jr * NR >= (two ? 2 : 1) * NR) {  // full panels
            float* cs[2] = {cbuf + (long long)jr * NR, cbuf + (long long)(jr + 1) * NR};
            if (two && GemvTable<D>::panels[mc] == 1) {
              GemvTable<D>::f[mc](a.w, a.ldw, n0 + (long long)jr * NR, k0, kc, xa, cs, ldc, p == 0);
              GemvTable<D>::f[mc](a.w, a.ldw, n0 + (long long)(jr + 1) * NR, k0, kc, xa, cs + 1, ldc, p == 0);
            } else if (two || mc > 1) {
              GemvTable<D>::f[mc](a.w, a.ldw, n0 + (long long)jr * NR, k0, kc, xa, cs, ldc, p == 0);
            } else {
              gemv<D, 1, 1>((const T*)a.w, a.ldw, n0 + (long long)jr * NR, k0, kc, xa, cs, ldc, p == 0);
            }
            continue;
          }
          for (int q = 0; q < (two ? 2 : 1); ++q) {
            const long long nn = nc - (long long)(jr + q) * NR;
            pack_w<D>((const T*)a.w, a.ldw, n0 + (long long)(jr + q) * NR, (int)(nn < NR ? nn : NR), k0, kc,
                      wbuf + q * KC * NR);
          }
          if (two) {
            kUkr2[mc](kc, xa, wbuf, wbuf + KC * NR, cbuf + (long long)jr * NR, cbuf + (long long)(jr + 1) * NR, ldc,
                      p == 0);
          } else {
            for (int ir = 0; ir < nir; ++ir) {
              int r0;
              const int mr = piece(ir, r0);
              UkrTable::one[mr](kc, xa + (long long)r0 * KC, wbuf, cbuf + r0 * ldc + (long long)jr * NR, ldc, p == 0);
            }
          }
        }
      }
    } else {
      for (long long p = 0; p < nkb; ++p) {
        const long long k0 = p * KC;
        const int kc = (int)(K - k0 < KC ? K - k0 : KC);
        if (ic == 0)
          for (int jr = 0; jr < np; ++jr) {
            const long long nn = nc - (long long)jr * NR;
            pack_w<D>((const T*)a.w, a.ldw, n0 + (long long)jr * NR, (int)(nn < NR ? nn : NR), k0, kc,
                      wbuf + ((long long)jr * nkb + p) * KC * NR);
          }
        const float* xa = xbuf + p * mcp * KC;
        for (int ir = 0; ir < nir; ++ir) {
          int r0;
          const int mr = piece(ir, r0);
          const Ukr f = UkrTable::one[mr];
          for (int jr = 0; jr < np; ++jr)
            f(kc, xa + (long long)r0 * KC, wbuf + ((long long)jr * nkb + p) * KC * NR,
              cbuf + r0 * ldc + (long long)jr * NR, ldc, p == 0);
        }
      }
    }
    if (K == 0) memset(cbuf, 0, sizeof(float) * (size_t)(mc * ldc));
    for (int i = 0; i < mc; ++i)
      epilogue_row<D>(a, cbuf + i * ldc, NR, m0 + i, n0, nc);
  }
}

// The shared packed-X buffer: one cached allocation, lent to one call at a time (others that
// overlap it, from other threads, get their own); never shrinks.
#ifndef GATUN_GEMM_XBUF_FLOATS
#define GATUN_GEMM_XBUF_FLOATS (8LL << 20)  // 32 MiB per M chunk
#endif
constexpr long long XBUF_FLOATS = GATUN_GEMM_XBUF_FLOATS;
struct XCache {
  std::atomic<bool> busy{false};
  float* p = nullptr;
  long long cap = 0;
};
XCache& xcache() {
  static XCache* c = new XCache;  // never destroyed: a call may still run at exit
  return *c;
}
struct XLease {
  float* own = nullptr;
  bool cached = false;
  float* get(long long n) {
    XCache& c = xcache();
    if (!c.busy.exchange(true, std::memory_order_acquire)) {
      cached = true;
      if (n > c.cap) {
        free(c.p);
        c.p = (float*)aligned_alloc(64, (size_t)rup(n, 16) * sizeof(float));
        c.cap = c.p ? n : 0;
      }
      return c.p;
    }
    own = (float*)aligned_alloc(64, (size_t)rup(n, 16) * sizeof(float));
    return own;
  }
  ~XLease() {
    free(own);
    if (cached) xcache().busy.store(false, std::memory_order_release);
  }
};

bool overlaps(const void* a, long long abytes, const void* b, long long bbytes) {
  const char *pa = (const char*)a, *pb = (const char*)b;
  return abytes > 0 && bbytes > 0 && pa < pb + bbytes && pb < pa + abytes;
}

// bytes spanned by a [rows x cols] matrix with leading dimension ld (rows, cols > 0)
long long span(long long rows, long long cols, long long ld, int es) { return ((rows - 1) * ld + cols) * es; }

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_gemm(int dtype, const void* x, long long ldx, const void* w, long long ldw, const void* bias,
                              void* y, long long ldy, long long m, long long n, long long k) {
  using namespace GATUN_NS;
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (m < 0 || n < 0 || k < 0 || m > kMaxElems || n > kMaxElems || k > kMaxElems) return GATUN_CPU_ESHAPE;
  if (m == 0 || n == 0) return GATUN_CPU_OK;
  if (m > kMaxElems / n) return GATUN_CPU_ESHAPE;
  if (!y || (k > 0 && (!x || !w))) return GATUN_CPU_ENULL;
  auto bad_ld = [](long long rows, long long cols, long long ld) {
    return rows > 1 && (ld < cols || ld > kMaxElems || rows > kMaxElems / ld);
  };
  if (bad_ld(m, n, ldy) || (k > 0 && (bad_ld(m, k, ldx) || bad_ld(n, k, ldw)))) return GATUN_CPU_ESTRIDE;
  const long long ybytes = span(m, n, m > 1 ? ldy : n, es);
  if (k > 0 && (overlaps(y, ybytes, x, span(m, k, m > 1 ? ldx : k, es)) ||
                overlaps(y, ybytes, w, span(n, k, n > 1 ? ldw : k, es))))
    return GATUN_CPU_EALIAS;
  if (bias && overlaps(y, ybytes, bias, n * es)) return GATUN_CPU_EALIAS;

  Args a{x, ldx, w, ldw, bias, y, ldy, m, n, k, 0, 0, 0, 0, 0, nullptr, 0};
  const int t = pool_threads();
  // Column block: up to NC_MAX, smaller for a long K (the reused W panel stays <= 4 MiB) and
  // small enough that there are ~4 blocks per thread.
  long long nc = NC_MAX;
  const long long by_k = k > 0 ? PANEL_FLOATS / k / NR * NR : NC_MAX;
  if (by_k < nc) nc = by_k;
  const long long by_t = rup((n + 4LL * t - 1) / (4LL * t), NR);
  if (by_t < nc) nc = by_t;
  if (nc < NR) nc = NR;
  a.nc = nc;
  a.nblk = (n + nc - 1) / nc;
  // M is done in chunks whose packed X (shared by all tasks, packed once) stays <= XBUF_FLOATS.
  const long long nkb = (k + KC - 1) / KC;
  a.xblk = nkb * (m < MC ? rup(m, MR) : MC) * KC;  // a decode call packs only the rows it has
  long long chunk_blocks = a.xblk > 0 ? XBUF_FLOATS / a.xblk : 1;
  if (chunk_blocks < 1) chunk_blocks = 1;
  const long long chunk = chunk_blocks * MC;
  const long long nblocks_max = ((m < chunk ? m : chunk) + MC - 1) / MC;
  float* xs = nullptr;
  XLease lease;
  if (a.xblk > 0) xs = lease.get(nblocks_max * a.xblk);
  const double flops = 2.0 * (double)m * (double)n * (double)(k > 0 ? k : 1);
  const bool small = flops < 2e5;  // waking workers costs more than it saves
  for (long long c0 = 0; c0 < m; c0 += chunk) {
    a.c0 = c0;
    a.c1 = m - c0 < chunk ? m : c0 + chunk;
    const long long cm = a.c1 - a.c0;
    a.xs = xs;
    a.mgrp = cm;
    if (a.nblk < 2LL * t && cm > MC) {  // few column blocks: split M too (whole MC blocks)
      const long long groups = (2LL * t + a.nblk - 1) / a.nblk;
      a.mgrp = rup((cm + groups - 1) / groups, MC);
    }
    const long long tasks = a.nblk * ((cm + a.mgrp - 1) / a.mgrp);
    if (k > 0 && !xs) {  // no memory for packing: the slow path, same arithmetic
      auto slow = [&](long long b, long long e) {
        for (long long i = b; i < e; ++i)
          dispatch(dtype, [&](auto d) {
            const long long jb = i % a.nblk, mg = i / a.nblk, n0 = jb * a.nc;
            const long long mb = a.c0 + mg * a.mgrp, me = a.c1 - mb < a.mgrp ? a.c1 : mb + a.mgrp;
            task_fallback<decltype(d)>(a, mb, me, n0, a.N - n0 < a.nc ? a.N : n0 + a.nc);
          });
      };
      if (small) slow(0, tasks);
      else parallel_for(tasks, 1, slow);
      continue;
    }
    if (k > 0) {  // pack this chunk's X once: row r goes to block r / MC
      auto packx = [&](long long b, long long e) {
        dispatch(dtype, [&](auto d) {
          using T = typename decltype(d)::T;
          for (long long r = b; r < e; ++r) {
            const long long blk = r / MC, mb = blk * MC;
            const long long rows = cm - mb < MC ? cm - mb : MC;
            pack_x_row<decltype(d)>((const T*)x + (c0 + r) * ldx, k, rup(rows, MR), (int)(r - mb), xs + blk * a.xblk);
          }
        });
      };
      const long long grain = (16384 + k - 1) / k;  // >= 16K elements per piece
      if (small || cm <= grain) packx(0, cm);
      else parallel_for(cm, grain, packx);
    }
    auto body = [&](long long b, long long e) {
      for (long long i = b; i < e; ++i) dispatch(dtype, [&](auto d) { run_task<decltype(d)>(a, i); });
    };
    if (tasks < 2 || small) body(0, tasks);
    else parallel_for(tasks, 1, body);
  }
  return GATUN_CPU_OK;
}
