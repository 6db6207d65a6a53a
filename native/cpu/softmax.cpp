// y[r,:] = softmax(x[r,:]) in fp32 math.
// Per row: pass 1 finds the max; pass 2 computes e = exp(x - max) into an fp32 buffer and sums it;
// pass 3 writes e / sum. Passes 2-3 hit cache, and pass 2 prefetches the next row, so that pass 1
// of that row does not wait on memory with no arithmetic to overlap (measured, 2 threads, C harness,
// alternated: 4096 x 4096 fp32 24-34 -> 35-40 GB/s, bf16 16-25 -> 23-28, 1024 x 4096 fp32 in L3
// 32-36 -> 41-45). A row of all -inf (or containing +inf/NaN) gives NaN, like torch.
#include <algorithm>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

template <class D>
float row_max(const typename D::T* x, long long n) {
  const float ninf = -__builtin_inff();
  vf m0 = vset1(ninf), m1 = m0, m2 = m0, m3 = m0;
  long long i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    m0 = vmax(m0, load(D{}, x + i));
    m1 = vmax(m1, load(D{}, x + i + W));
    m2 = vmax(m2, load(D{}, x + i + 2 * W));
    m3 = vmax(m3, load(D{}, x + i + 3 * W));
  }
  for (; i + W <= n; i += W) m0 = vmax(m0, load(D{}, x + i));
  if (i < n) m1 = vmax(m1, load_tail(D{}, x + i, n - i, ninf));
  return hmax(vmax(vmax(m0, m1), vmax(m2, m3)));
}

// e[i] = exp(x[i] - mx) (if Store); returns the sum, blocked like row_reduce_sum (order fixed by n).
// The n elements at `next` (null: none) go into L2, a few lines per step of 4 vectors.
template <class D, bool Store>
float exp_and_sum(const typename D::T* x, float* e, long long n, float mx, const typename D::T* next) {
  const vf m = vset1(mx);
  const long long next_bytes = next ? n * (long long)sizeof(*next) : 0, steps = std::max(1LL, n / (4 * W));
  const int per_step = (int)((next_bytes / 64 + steps - 1) / steps * 64);
  long long prefetched = 0;
  double total = 0.0;
  for (long long i = 0; i < n;) {
    const long long end = n - i < kBlock ? n : i + kBlock;
    vf s0 = vset1(0.f), s1 = s0, s2 = s0, s3 = s0;
    for (; i + 4 * W <= end; i += 4 * W) {
      if (prefetched < next_bytes) prefetch_l2((const char*)next + prefetched, per_step), prefetched += per_step;
      vf e0 = vexp(vsub(load(D{}, x + i), m));
      vf e1 = vexp(vsub(load(D{}, x + i + W), m));
      vf e2 = vexp(vsub(load(D{}, x + i + 2 * W), m));
      vf e3 = vexp(vsub(load(D{}, x + i + 3 * W), m));
      if (Store) {
        store(F32{}, e + i, e0);
        store(F32{}, e + i + W, e1);
        store(F32{}, e + i + 2 * W, e2);
        store(F32{}, e + i + 3 * W, e3);
      }
      s0 = vadd(s0, e0);
      s1 = vadd(s1, e1);
      s2 = vadd(s2, e2);
      s3 = vadd(s3, e3);
    }
    for (; i + W <= end; i += W) {
      vf e0 = vexp(vsub(load(D{}, x + i), m));
      if (Store) store(F32{}, e + i, e0);
      s0 = vadd(s0, e0);
    }
    if (i < end) {  // lanes past the row are forced to 0, whatever exp gave for the fill
      vf e1 = keep(vexp(vsub(load_tail(D{}, x + i, end - i, 0.f), m)), end - i);
      if (Store) store_tail(F32{}, e + i, e1, end - i);
      s1 = vadd(s1, e1);
      i = end;
    }
    total += hsum(vadd(vadd(s0, s1), vadd(s2, s3)));
  }
  return (float)total;
}

// y[i] = e[i] * s (elementwise: any split is fine)
template <class D, bool NT>
void write_scaled(const float* e, typename D::T* y, long long n, float scale) {
  const vf s = vset1(scale);
  long long i = 0;
  if (NT) {
    long long peel = peel_to_vector(y);
    if (peel < 0) peel = n;  // unaligned element pointer: no streaming
    if (peel > n) peel = n;
    if (peel > 0) store_tail(D{}, y, vmul(load_tail(F32{}, e, peel, 0.f), s), peel);
    for (i = peel; i + W <= n; i += W) store_nt(D{}, y + i, vmul(load(F32{}, e + i), s));
  } else {
    for (; i + 2 * W <= n; i += 2 * W) {
      store(D{}, y + i, vmul(load(F32{}, e + i), s));
      store(D{}, y + i + W, vmul(load(F32{}, e + i + W), s));
    }
    for (; i + W <= n; i += W) store(D{}, y + i, vmul(load(F32{}, e + i), s));
  }
  if (i < n) store_tail(D{}, y + i, vmul(load_tail(F32{}, e + i, n - i, 0.f), s), n - i);
}

// Fallback when no scratch could be allocated: recompute exp in the write pass.
template <class D>
void write_recomputed(const typename D::T* x, typename D::T* y, long long n, float mx, float scale) {
  const vf m = vset1(mx), s = vset1(scale);
  long long i = 0;
  for (; i + W <= n; i += W) store(D{}, y + i, vmul(vexp(vsub(load(D{}, x + i), m)), s));
  if (i < n) store_tail(D{}, y + i, vmul(vexp(vsub(load_tail(D{}, x + i, n - i, 0.f), m)), s), n - i);
}

template <class D>
void softmax_rows(const typename D::T* x, long long xs, typename D::T* y, long long ys, long long rows,
                  long long cols) {
  const bool nt = stream_output(rows, cols, sizeof(typename D::T));
  for_rows(rows, cols * (long long)sizeof(typename D::T), [&](long long r0, long long r1) {
    float* e = scratch(cols);
    for (long long r = r0; r < r1; ++r) {
      const typename D::T* xr = x + r * xs;
      typename D::T* yr = y + r * ys;
      const float mx = row_max<D>(xr, cols);
      if (!e) {  // no memory for scratch: same sum, then exp again in the write pass
        write_recomputed<D>(xr, yr, cols, mx, 1.0f / exp_and_sum<D, false>(xr, nullptr, cols, mx, nullptr));
        continue;
      }
      const float sum = exp_and_sum<D, true>(xr, e, cols, mx, r + 1 < r1 ? xr + xs : nullptr);
      if (nt) write_scaled<D, true>(e, yr, cols, 1.0f / sum);
      else write_scaled<D, false>(e, yr, cols, 1.0f / sum);
    }
    if (nt) _mm_sfence();  // streamed stores visible before the chunk is reported done
  });
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_softmax(int dtype, const void* x, long long x_stride, void* y, long long y_stride,
                                 long long rows, long long cols) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (int rc = check_matrix(x, x_stride, rows, cols)) return rc;
  if (int rc = check_matrix(y, y_stride, rows, cols)) return rc;
  if (rows == 0) return GATUN_CPU_OK;
  if (x == y && x_stride != y_stride && rows > 1) return GATUN_CPU_EALIAS;
  dispatch(dtype, [&](auto d) {
    using T = typename decltype(d)::T;
    softmax_rows<decltype(d)>((const T*)x, x_stride, (T*)y, y_stride, rows, cols);
  });
  return GATUN_CPU_OK;
}
