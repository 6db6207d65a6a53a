// out[r] = sum_c x[r,c] with fp32 accumulation in a fixed order per row.
#include "rows.h"

extern "C" int gatun_cpu_row_sum(int dtype, const void* x, long long x_stride, float* out, long long rows,
                                 long long cols) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (int rc = check_matrix(x, x_stride, rows, cols)) return rc;
  if (rows == 0) return GATUN_CPU_OK;
  if (!out) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using D = decltype(d);
    using T = typename D::T;
    const T* xp = (const T*)x;
    for_rows(rows, cols * (long long)sizeof(T), [&](long long r0, long long r1) {
      for (long long r = r0; r < r1; ++r)
        out[r] = row_reduce_sum<D>(xp + r * x_stride, cols, [](vf acc, vf v) { return vadd(acc, v); });
    });
  });
  return GATUN_CPU_OK;
}
