// y = x * rsqrt(mean(x^2) + eps) * weight, fp32 math. Pass 1 sums squares (fixed order per row),
// pass 2 scales; x is re-read from cache. The row factor uses IEEE sqrt and divide, not rsqrt approximations.
#include <math.h>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

template <class D, bool NT, bool Weighted>
void scale_row(const typename D::T* x, const typename D::T* w, typename D::T* y, long long n, float r) {
  const vf s = vset1(r);
  auto one = [&](long long i) {
    vf v = vmul(load(D{}, x + i), s);
    return Weighted ? vmul(v, load(D{}, w + i)) : v;
  };
  auto part = [&](long long i, long long k) {
    vf v = vmul(load_tail(D{}, x + i, k, 0.f), s);
    return Weighted ? vmul(v, load_tail(D{}, w + i, k, 0.f)) : v;
  };
  long long i = 0;
  if (NT) {
    long long peel = peel_to_vector(y);
    if (peel < 0 || peel > n) peel = n;
    if (peel > 0) store_tail(D{}, y, part(0, peel), peel);
    for (i = peel; i + W <= n; i += W) store_nt(D{}, y + i, one(i));
  } else {
    for (; i + 2 * W <= n; i += 2 * W) {
      store(D{}, y + i, one(i));
      store(D{}, y + i + W, one(i + W));
    }
    for (; i + W <= n; i += W) store(D{}, y + i, one(i));
  }
  if (i < n) store_tail(D{}, y + i, part(i, n - i), n - i);
}

template <class D, bool NT, bool Weighted>
void rms_rows(const typename D::T* x, long long xs, const typename D::T* w, float eps, typename D::T* y,
              long long ys, long long rows, long long cols) {
  for_rows(rows, cols * (long long)sizeof(typename D::T), [&](long long r0, long long r1) {
    for (long long r = r0; r < r1; ++r) {
      const typename D::T* xr = x + r * xs;
      float ss = row_reduce_sum<D>(xr, cols, [](vf acc, vf v) { return vfma(v, v, acc); });
      float rs = 1.0f / sqrtf(ss / (float)cols + eps);
      scale_row<D, NT, Weighted>(xr, w, y + r * ys, cols, rs);
    }
    if (NT) _mm_sfence();
  });
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_rms_norm(int dtype, const void* x, long long x_stride, const void* weight, float eps,
                                  void* y, long long y_stride, long long rows, long long cols) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (int rc = check_matrix(x, x_stride, rows, cols)) return rc;
  if (int rc = check_matrix(y, y_stride, rows, cols)) return rc;
  if (rows == 0) return GATUN_CPU_OK;
  if (x == y && x_stride != y_stride && rows > 1) return GATUN_CPU_EALIAS;
  const bool nt = stream_output(rows, cols, dtype_size(dtype));
  dispatch(dtype, [&](auto d) {
    using D = decltype(d);
    using T = typename D::T;
    const T *xp = (const T*)x, *wp = (const T*)weight;
    T* yp = (T*)y;
    if (nt && wp) rms_rows<D, true, true>(xp, x_stride, wp, eps, yp, y_stride, rows, cols);
    else if (nt) rms_rows<D, true, false>(xp, x_stride, wp, eps, yp, y_stride, rows, cols);
    else if (wp) rms_rows<D, false, true>(xp, x_stride, wp, eps, yp, y_stride, rows, cols);
    else rms_rows<D, false, false>(xp, x_stride, wp, eps, yp, y_stride, rows, cols);
  });
  return GATUN_CPU_OK;
}
