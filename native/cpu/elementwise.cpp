// The per-element ops between a transformer block's big kernels (the CPU twins of
// kernels/elementwise.cuh): residual add, SwiGLU's silu(gate)·up, tanh-GELU, embedding gather.
// Memory-bound: one pass, vectorized, split over the pool in whole chunks so every element's
// result is the same whatever the thread count.
#include <string.h>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr long long kChunk = 4096;  // elements per parallel work item

// Runs f(begin, end) over [0, n) in chunks of kChunk on the pool.
template <class F>
void for_chunks(long long n, int esize, F&& f) {
  const long long chunks = (n + kChunk - 1) / kChunk;
  for_rows(chunks, kChunk * esize, [&](long long c0, long long c1) {
    f(c0 * kChunk, c1 * kChunk < n ? c1 * kChunk : n);
  });
}

// y[i] = op(x...) for i in [b, e): full vectors, then one masked tail.
template <class D, class Op>
void map2(D d, const typename D::T* a, const typename D::T* x, typename D::T* y, long long b, long long e, Op op) {
  long long i = b;
  for (; i + W <= e; i += W) store(d, y + i, op(load(d, a + i), load(d, x + i)));
  if (i < e) store_tail(d, y + i, op(load_tail(d, a + i, e - i, 0.0f), load_tail(d, x + i, e - i, 0.0f)), e - i);
}

VI vf silu(vf g) {  // g / (1 + exp(-g))
  vf one = vset1(1.0f);
#ifdef GATUN_AVX512
  return _mm512_div_ps(g, vadd(one, vexp(vsub(vset1(0.0f), g))));
#else
  return _mm256_div_ps(g, vadd(one, vexp(vsub(vset1(0.0f), g))));
#endif
}

// 0.5 v (1 + tanh(z)) = v / (1 + exp(-2z)): no cancellation of 1 + tanh(z) for very negative v
// (the formula as written loses every digit there in fp32); exp(-2z) = inf gives -0
VI vf gelu_tanh(vf v) {
  const vf z = vmul(vset1(0.7978845608028654f), vfma(vmul(vset1(0.044715f), vmul(v, v)), v, v));
#ifdef GATUN_AVX512
  return _mm512_div_ps(v, vadd(vset1(1.0f), vexp(vmul(vset1(-2.0f), z))));
#else
  return _mm256_div_ps(v, vadd(vset1(1.0f), vexp(vmul(vset1(-2.0f), z))));
#endif
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

using namespace GATUN_NS;

extern "C" {

int gatun_cpu_add(int dtype, const void* a, const void* b, void* y, long long n) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (n < 0 || n > kMaxElems) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!a || !b || !y) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using T = typename decltype(d)::T;
    for_chunks(n, es, [&](long long b0, long long b1) {
      map2(d, (const T*)a, (const T*)b, (T*)y, b0, b1, [](vf p, vf q) { return vadd(p, q); });
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_silu_mul(int dtype, const void* x, void* y, long long rows, long long cols) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (rows < 0 || cols < 1 || rows > kMaxElems / (2 * cols)) return GATUN_CPU_ESHAPE;
  if (rows == 0) return GATUN_CPU_OK;
  if (!x || !y) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using T = typename decltype(d)::T;
    for_rows(rows, 3 * cols * es, [&](long long r0, long long r1) {
      for (long long r = r0; r < r1; r++) {
        const T* gate = (const T*)x + r * 2 * cols;
        map2(d, gate, gate + cols, (T*)y + r * cols, 0, cols, [](vf g, vf u) { return vmul(silu(g), u); });
      }
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_gelu_tanh(int dtype, const void* x, void* y, long long n) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (n < 0 || n > kMaxElems) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!x || !y) return GATUN_CPU_ENULL;
  dispatch(dtype, [&](auto d) {
    using T = typename decltype(d)::T;
    for_chunks(n, es, [&](long long b0, long long b1) {
      map2(d, (const T*)x, (const T*)x, (T*)y, b0, b1, [](vf v, vf) { return gelu_tanh(v); });
    });
  });
  return GATUN_CPU_OK;
}

int gatun_cpu_embedding(int dtype, const int* ids, const void* table, long long vocab, void* y, long long tokens,
                        long long hidden) {
  const int es = dtype_size(dtype);
  if (!es) return GATUN_CPU_EDTYPE;
  if (tokens < 0 || hidden < 1 || vocab < 1 || tokens > kMaxElems / hidden) return GATUN_CPU_ESHAPE;
  if (tokens == 0) return GATUN_CPU_OK;
  if (!ids || !table || !y) return GATUN_CPU_ENULL;
  for (long long t = 0; t < tokens; t++)
    if (ids[t] < 0 || ids[t] >= vocab) return GATUN_CPU_ESHAPE;  // the last guard: Java checked already
  const long long row = hidden * es;
  for_rows(tokens, row, [&](long long t0, long long t1) {
    for (long long t = t0; t < t1; t++) memcpy((char*)y + t * row, (const char*)table + ids[t] * row, row);
  });
  return GATUN_CPU_OK;
}

}  // extern "C"
