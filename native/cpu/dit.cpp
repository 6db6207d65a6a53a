// The DiT glue (the CPU twins of kernels/dit.cuh, which defines every op): adaLN, the gated
// residual, 3D patchify / unpatchify and the sinusoidal timestep embedding. Rows are widened to
// fp32 scratch, computed in fp32 (the embedding's argument and cos/sin in double, like the kernel)
// and rounded once; whole rows per thread, so a row's result never depends on the thread count.
#include <math.h>
#include <string.h>

#include "../../kernels/patch_geometry.h"
#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

template <class E>
void move_patches(const E* src, E* dst, long long n, const gatun::PatchGeometry& g, bool to_tokens) {
  const long long patch = g.c * g.pt * g.ph * g.pw;  // one token per work row
  for_rows(n / patch, patch * (long long)sizeof(E), [&](long long r0, long long r1) {
    for (long long i = r0 * patch; i < r1 * patch; ++i) {
      const long long l = g.latent_index(i);
      if (to_tokens) dst[i] = src[l];
      else dst[l] = src[i];
    }
  });
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

using namespace GATUN_NS;

extern "C" {

int gatun_cpu_ada_layer_norm(int dtype, const void* x, const void* shift, const void* scale, void* y, long long rows,
                             long long cols, long long rows_per_batch, long long mod_stride, float eps) {
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (rows < 0 || cols < 1 || rows_per_batch < 1 || mod_stride < cols || rows > kMaxElems / cols) return GATUN_CPU_ESHAPE;
  if (rows == 0) return GATUN_CPU_OK;
  if (!x || !shift || !scale || !y) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using D = decltype(d);
    using T = typename D::T;
    for_rows(rows, cols * (long long)sizeof(T), [&](long long r0, long long r1) {
      float* v = scratch<0>(3 * cols);
      float *sh = v + cols, *sc = v + 2 * cols;
      for (long long r = r0; r < r1; ++r) {
        const long long b = r / rows_per_batch;
        widen_row<D>((const T*)x + r * cols, v, (int)cols);
        widen_row<D>((const T*)shift + b * mod_stride, sh, (int)cols);
        widen_row<D>((const T*)scale + b * mod_stride, sc, (int)cols);
        float sum = 0.0f, ss = 0.0f;
        for (long long c = 0; c < cols; ++c) sum += v[c];
        const float mean = sum / (float)cols;
        for (long long c = 0; c < cols; ++c) ss += (v[c] - mean) * (v[c] - mean);
        const float rstd = 1.0f / sqrtf(ss / (float)cols + eps);
        for (long long c = 0; c < cols; ++c) v[c] = (v[c] - mean) * rstd * (1.0f + sc[c]) + sh[c];
        narrow_row<D>(v, (T*)y + r * cols, (int)cols);
      }
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_gated_residual(int dtype, const void* x, const void* gate, const void* y, void* out, long long rows,
                             long long cols, long long rows_per_batch, long long gate_stride) {
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (rows < 0 || cols < 1 || rows_per_batch < 1 || gate_stride < cols || rows > kMaxElems / cols) return GATUN_CPU_ESHAPE;
  if (rows == 0) return GATUN_CPU_OK;
  if (!x || !gate || !y || !out) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using D = decltype(d);
    using T = typename D::T;
    for_rows(rows, cols * (long long)sizeof(T), [&](long long r0, long long r1) {
      float* a = scratch<0>(3 * cols);
      float *g = a + cols, *v = a + 2 * cols;
      for (long long r = r0; r < r1; ++r) {
        widen_row<D>((const T*)x + r * cols, a, (int)cols);
        widen_row<D>((const T*)gate + (r / rows_per_batch) * gate_stride, g, (int)cols);
        widen_row<D>((const T*)y + r * cols, v, (int)cols);
        for (long long c = 0; c < cols; ++c) a[c] += g[c] * v[c];
        narrow_row<D>(a, (T*)out + r * cols, (int)cols);
      }
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_patchify(int dtype, const void* src, void* dst, long long batch, long long c, long long f, long long h,
                       long long w, long long pt, long long ph, long long pw, int to_tokens) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (batch < 0 || c < 1 || pt < 1 || ph < 1 || pw < 1 || f < pt || h < ph || w < pw || f % pt || h % ph || w % pw)
    return GATUN_CPU_ESHAPE;
  const long long n = batch * c * f * h * w;
  if (n == 0) return GATUN_CPU_OK;
  if (!src || !dst) return GATUN_CPU_ENULL;
  const gatun::PatchGeometry g{c, f, h, w, pt, ph, pw};
  if (es == 4) move_patches((const uint32_t*)src, (uint32_t*)dst, n, g, to_tokens != 0);
  else move_patches((const uint16_t*)src, (uint16_t*)dst, n, g, to_tokens != 0);
  return GATUN_CPU_OK;
}

int gatun_cpu_timestep_embedding(int dtype, const float* t, void* emb, long long n, long long dim, float max_period) {
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (n < 0 || dim < 1 || n > kMaxElems / dim || !(max_period > 0)) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!t || !emb) return GATUN_CPU_ENULL;
  const long long half = dim / 2;
  dispatch(dtype, [&](auto d) {
    using D = decltype(d);
    using T = typename D::T;
    float* v = scratch<0>(dim);
    for (long long r = 0; r < n; ++r) {
      for (long long j = 0; j < dim; ++j) {
        v[j] = 0.0f;
        if (j >= 2 * half) continue;
        const long long k = j < half ? j : j - half;
        const double arg = (double)t[r] * exp(-log((double)max_period) * (double)k / (double)half);
        v[j] = (float)(j < half ? cos(arg) : sin(arg));
      }
      narrow_row<D>(v, (T*)emb + r * dim, (int)dim);
    }
  });
  return GATUN_CPU_OK;
}

}  // extern "C"
