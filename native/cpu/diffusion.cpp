// The diffusion step on the CPU (the twin of kernels/diffusion.cuh, whose header comment is the
// definition): CFG + guidance rescale + x' = a x + b m + c prev + d z, x0 = p x + q m.
// The noise is the same scalar function as the kernel's (diffusion.cuh included host-only), so the
// Philox integers are bit-identical and z agrees to a few ulps (glibc logf/cosf). The rest is
// vectorized over chunks of one sample; samples and chunks run in parallel, and every element's
// result is independent of the split. The rescale statistics are accumulated in double.
#define GATUN_DIFFUSION_HOST_ONLY 1
#include "../../kernels/diffusion.cuh"

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr long long kChunk = 4096;  // elements per parallel work item (never crosses a sample)

template <class D>
void step_range(const typename D::T* x, const typename D::T* model, const typename D::T* prev, typename D::T* out,
                typename D::T* x0_out, const float* pr, float factor, long long seed, long long step, long long total,
                long long base, long long j0, long long j1, bool cfg) {
  // base = s * len: element j of the sample is at base + j
  float* noise = nullptr;
  if (pr[3] != 0.0f) {
    noise = scratch<0>(j1 - j0);
    for (long long j = j0; j < j1; j++) noise[j - j0] = gatun::diffusion_normal(seed, step, j);
  }
  const vf a = vset1(pr[0]), b = vset1(pr[1]), c = vset1(pr[2]), d = vset1(pr[3]), p = vset1(pr[4]), q = vset1(pr[5]);
  const vf g = vset1(pr[6]), f = vset1(factor);
  auto body = [&](long long i, vf xv, vf m, vf pv, vf z, long long tail) {
    vf v = vfma(b, m, vmul(a, xv));
    if (prev) v = vfma(c, pv, v);
    if (noise) v = vfma(d, z, v);
    if (tail) {
      if (x0_out) store_tail(D{}, x0_out + i, vfma(q, m, vmul(p, xv)), tail);
      store_tail(D{}, out + i, v, tail);
    } else {
      if (x0_out) store(D{}, x0_out + i, vfma(q, m, vmul(p, xv)));
      store(D{}, out + i, v);
    }
  };
  long long j = j0;
  for (; j + W <= j1; j += W) {
    const long long i = base + j;
    vf m = load(D{}, model + i);
    if (cfg) {
      const vf u = load(D{}, model + total + i);
      m = vfma(g, vsub(m, u), u);
    }
    m = vmul(m, f);
    const vf xv = load(D{}, x + i);
    const vf pv = prev ? load(D{}, prev + i) : vset1(0.f);
    const vf z = noise ? load(F32{}, noise + (j - j0)) : vset1(0.f);
    body(i, xv, m, pv, z, 0);
  }
  if (j < j1) {
    const long long i = base + j, n = j1 - j;
    vf m = load_tail(D{}, model + i, n, 0.f);
    if (cfg) {
      const vf u = load_tail(D{}, model + total + i, n, 0.f);
      m = vfma(g, vsub(m, u), u);
    }
    m = vmul(m, f);
    const vf xv = load_tail(D{}, x + i, n, 0.f);
    const vf pv = prev ? load_tail(D{}, prev + i, n, 0.f) : vset1(0.f);
    const vf z = noise ? load_tail(F32{}, noise + (j - j0), n, 0.f) : vset1(0.f);
    body(i, xv, m, pv, z, n);
  }
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

using namespace GATUN_NS;

extern "C" {

int gatun_cpu_cfg_rescale(int dtype, const void* model, const float* params, float* factor, long long n,
                          long long len) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (n < 0 || len < 1 || len > 0x7fffffffLL || n > kMaxElems / (2 * len)) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!model || !params || !factor) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto dt) {
    using D = decltype(dt);
    using T = typename D::T;
    const T* mk = (const T*)model;
    const long long total = n * len;
    for_rows(n, 2 * len * es, [&](long long s0, long long s1) {
      float* buf = scratch<0>(2 * len);
      for (long long s = s0; s < s1; s++) {
        const float g = params[s * gatun::kDiffusionParams + 6], phi = params[s * gatun::kDiffusionParams + 7];
        widen_row<D>(mk + s * len, buf, (int)len);
        widen_row<D>(mk + total + s * len, buf + len, (int)len);
        double sk = 0, sg = 0;
        for (long long j = 0; j < len; j++) {
          const float k = buf[j], u = buf[len + j];
          buf[len + j] = u + g * (k - u);  // the guided value, in the kernel's fp32
          sk += k;
          sg += buf[len + j];
        }
        const double mkn = sk / len, mg = sg / len;
        double qk = 0, qg = 0;
        for (long long j = 0; j < len; j++) {
          qk += (buf[j] - mkn) * (buf[j] - mkn);
          qg += (buf[len + j] - mg) * (buf[len + j] - mg);
        }
        factor[s] = qg > 0 ? (float)(1.0 - phi + phi * sqrt(qk / qg)) : 1.0f;
      }
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_diffusion_step(int dtype, const void* x, const void* model, const void* prev, void* out, void* x0_out,
                             const float* params, const float* factor, const long long* seeds,
                             const long long* steps, long long n, long long len, int cfg) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (n < 0 || len < 1 || n > kMaxElems / (2 * len)) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!x || !model || !out || !params || !seeds || !steps) return GATUN_CPU_ENULL;
  const long long per = (len + kChunk - 1) / kChunk, total = n * len;
  dispatch(dtype, [&](auto dt) {
    using D = decltype(dt);
    using T = typename D::T;
    for_rows(n * per, kChunk * 4 * es, [&](long long c0, long long c1) {
      for (long long c = c0; c < c1; c++) {
        const long long s = c / per, j0 = (c % per) * kChunk, j1 = j0 + kChunk < len ? j0 + kChunk : len;
        step_range<D>((const T*)x, (const T*)model, (const T*)prev, (T*)out, (T*)x0_out,
                      params + s * gatun::kDiffusionParams, factor ? factor[s] : 1.0f, seeds[s], steps[s], total,
                      s * len, j0, j1, cfg != 0);
      }
    });
  });
  return GATUN_CPU_OK;
}

}  // extern "C"
