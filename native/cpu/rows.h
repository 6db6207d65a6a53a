// Shared pieces of the row kernels: argument checks, dtype dispatch, row-parallel driver,
// per-thread fp32 scratch, and the streaming-store decision.
#ifndef GATUN_CPU_ROWS_H
#define GATUN_CPU_ROWS_H

#include <stdint.h>
#include <stdlib.h>

#include "gatun_cpu.h"
#include "thread_pool.h"
#include "vec.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {

constexpr long long kMaxElems = 1LL << 40;  // keeps every byte offset far from overflow

static inline int dtype_size(int dtype) { return dtype == GATUN_F32 ? 4 : (dtype == GATUN_F16 || dtype == GATUN_BF16) ? 2 : 0; }

// Checks a [rows x cols] strided matrix. rows == 0 is valid with any pointer.
static inline int check_matrix(const void* p, long long stride, long long rows, long long cols) {
  if (rows < 0 || cols < 1 || rows > kMaxElems || cols > kMaxElems) return GATUN_CPU_ESHAPE;
  if (rows == 0) return GATUN_CPU_OK;
  if (!p) return GATUN_CPU_ENULL;
  if (rows > 1 && (stride < cols || stride > kMaxElems || rows > kMaxElems / stride)) return GATUN_CPU_ESTRIDE;
  return GATUN_CPU_OK;
}

// Calls f(D{}) for the dtype code.
template <class F>
static inline void dispatch(int dtype, F&& f) {
  if (dtype == GATUN_F32) f(F32{});
  else if (dtype == GATUN_F16) f(F16{});
  else f(BF16{});
}

// Runs f(r0, r1) over row ranges; whole rows per thread, so results never depend on the split.
template <class F>
static inline void for_rows(long long rows, long long row_bytes, F&& f) {
  const long long total = rows * row_bytes;
  if (total < (256 << 10) || rows < 2) {  // waking workers costs more than it saves
    f(0, rows);
    return;
  }
  const int t = pool_threads();
  long long grain = ((64 << 10) + row_bytes - 1) / row_bytes;  // >= 64 KiB per chunk
  long long balanced = rows / (8LL * t);                           // ~8 chunks per thread
  if (balanced > grain) grain = balanced;
  parallel_for(rows, grain, f);
}

// Outputs this large go out with non-temporal stores: they cannot stay in cache anyway,
// and streaming skips the read-for-ownership of every output line.
#ifndef GATUN_CPU_STREAM_BYTES
#define GATUN_CPU_STREAM_BYTES (64LL << 20)
#endif
static inline bool stream_output(long long rows, long long cols, int esize) {
  return rows * cols * esize >= GATUN_CPU_STREAM_BYTES;
}

// Elements to peel so that p + peel is aligned to a full vector of T (W * sizeof(T) bytes).
// Returns -1 when p is not even element-aligned (then no streaming).
template <class T>
static inline long long peel_to_vector(const T* p) {
  uintptr_t a = (uintptr_t)p, A = W * sizeof(T);
  if (a % sizeof(T)) return -1;
  return (long long)(((A - a % A) % A) / sizeof(T));
}

// Per-thread fp32 row buffer, grown on demand (64-byte aligned). Slot > 0 gives further buffers
// that live next to slot 0 (a kernel that needs two at once).
template <int Slot = 0>
static inline float* scratch(long long n) {
  struct Buf {
    float* p = nullptr;
    long long cap = 0;
    ~Buf() { free(p); }
  };
  static thread_local Buf b;
  if (n > b.cap) {
    free(b.p);
    long long cap = (n + 15) & ~15LL;
    b.p = (float*)aligned_alloc(64, cap * sizeof(float));
    b.cap = b.p ? cap : 0;
  }
  return b.p;
}

// Software prefetch of `bytes` at p into L2 (hint T1), for rows the hardware prefetchers do not
// fetch early enough: rows a page or more apart, or the next chunk while this one computes.
VI void prefetch_l2(const void* p, int bytes) {
  for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char*)p + o, _MM_HINT_T1);
}

// dst[0 .. n) = src[0 .. n) widened to fp32
template <class D>
VI void widen_row(const typename D::T* src, float* dst, int n) {
  int i = 0;
  for (; i + W <= n; i += W) store(F32{}, dst + i, load(D{}, src + i));
  if (i < n) store_tail(F32{}, dst + i, load_tail(D{}, src + i, n - i, 0.f), n - i);
}

// dst[0 .. Dp) = scale * src[0 .. n) widened to fp32 (Scaled) or unscaled, zeros up to Dp = n rounded
// up to whole vectors: full-vector stores only, since the loads that soon read the row back cannot
// take their data from a masked store (measured: d72 temporal attention 10-15% faster this way)
template <class D, bool Scaled = false>
VI void widen_row_padded(const typename D::T* src, float* dst, int n, float scale = 1.f) {
  const vf s = vset1(scale);
  auto put = [&](int i, vf x) { store(F32{}, dst + i, Scaled ? vmul(x, s) : x); };
  int i = 0;
  for (; i + W <= n; i += W) put(i, load(D{}, src + i));
  if (i < n) put(i, load_tail(D{}, src + i, n - i, 0.f));
}

// dst[0 .. n) = src[0 .. n) rounded from fp32 to D
template <class D>
VI void narrow_row(const float* src, typename D::T* dst, int n) {
  int i = 0;
  for (; i + W <= n; i += W) store(D{}, dst + i, load(F32{}, src + i));
  if (i < n) store_tail(D{}, dst + i, load_tail(F32{}, src + i, n - i, 0.f), n - i);
}

// Row sums run in blocks of kBlock elements: 4 vector accumulators inside a block (each lane adds
// at most 16 terms), block totals added in double. Accurate for long rows, and the order
// depends only on n, never on threads or batch.
constexpr long long kBlock = 64LL * W;

// Sum over a row of op(acc, v) contributions, e.g. v or v*v. Tail lanes load as 0.
template <class D, class Op>
static inline float row_reduce_sum(const typename D::T* x, long long n, Op op) {
  double total = 0.0;
  for (long long i = 0; i < n;) {
    const long long end = n - i < kBlock ? n : i + kBlock;
    vf a0 = vset1(0.f), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 4 * W <= end; i += 4 * W) {
      a0 = op(a0, load(D{}, x + i));
      a1 = op(a1, load(D{}, x + i + W));
      a2 = op(a2, load(D{}, x + i + 2 * W));
      a3 = op(a3, load(D{}, x + i + 3 * W));
    }
    for (; i + W <= end; i += W) a0 = op(a0, load(D{}, x + i));
    if (i < end) {
      a1 = op(a1, load_tail(D{}, x + i, end - i, 0.f));
      i = end;
    }
    total += hsum(vadd(vadd(a0, a1), vadd(a2, a3)));
  }
  return (float)total;
}

}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
