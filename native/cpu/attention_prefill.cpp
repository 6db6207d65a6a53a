// Flash-attention prefill on the CPU over K/V packed per sequence (rows Hkv*D apart). The tiles,
// their schedule and the batch-invariance argument live in attention_tiles.h, shared with the paged
// prefill (attention_prefill_paged.cpp); this file checks the arguments and names the K/V source.
#include "attention_tiles.h"

#include <chrono>

extern "C" int gatun_cpu_attention_prefill(int dtype, const void* q, const void* k, const void* v, void* out,
                                           float* lse, const int* cu_seqlens_q, const int* cu_seqlens_k,
                                           int batch, int num_q_heads, int num_kv_heads, int head_dim,
                                           float scale, int causal, int window_left) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (batch < 0 || num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads || head_dim < 8 ||
      head_dim % 8 || head_dim > kMaxHeadDim || !isfinite(scale))
    return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!cu_seqlens_q || !cu_seqlens_k) return GATUN_CPU_ENULL;
  if (cu_seqlens_q[0] != 0 || cu_seqlens_k[0] != 0) return GATUN_CPU_ESHAPE;
  long long total_q = 0, total_k = 0;
  for (int b = 0; b < batch; ++b) {
    if (cu_seqlens_q[b + 1] < cu_seqlens_q[b] || cu_seqlens_k[b + 1] < cu_seqlens_k[b]) return GATUN_CPU_ESHAPE;
  }
  total_q = cu_seqlens_q[batch];
  total_k = cu_seqlens_k[batch];
  if (total_q == 0) return GATUN_CPU_OK;
  if (!q || !out || !lse) return GATUN_CPU_ENULL;
  if (total_k > 0 && (!k || !v)) return GATUN_CPU_ENULL;
  if (total_q * num_q_heads * head_dim > kMaxElems || total_k * num_kv_heads * head_dim > kMaxElems)
    return GATUN_CPU_ESHAPE;

  const TileArgs a{num_q_heads, num_kv_heads, head_dim, scale, causal ? 1 : 0, window_left < 0 ? -1 : window_left};
  const VarlenRows rows{q, out, lse, cu_seqlens_q, num_q_heads, head_dim};
  return run_prefill(dtype, a, rows, ContiguousSrc{k, v, cu_seqlens_k, num_kv_heads, head_dim}, batch);
}

// Peak probes (the ceilings of compute-bound ops): every pool thread runs `iters` rounds of 12
// independent vector chains (enough to cover the latency x ports) of fp32 FMAs, or (Dp) of the
// vdpbf16ps that the bf16 flash tiles run on (bf16_dot_tiles). Return the achieved GFLOP/s (an FMA
// 2 FLOPs per lane, a bf16 pair dot product 4), or a negative value on error.
namespace {
template <bool Dp>
__attribute__((noinline)) float peak_chains(long long iters, float seed) {
  using namespace GATUN_NS;
  vf x = vset1(0.999999f), y = vset1(1e-7f);
#ifdef __AVX512BF16__
  if constexpr (Dp)  // bf16 pairs (1, 1) and (2^-20, 2^-20): each step adds 2^-19
    x = _mm512_castsi512_ps(_mm512_set1_epi32(0x3F803F80)), y = _mm512_castsi512_ps(_mm512_set1_epi32(0x35803580));
#endif
  const vf z = vset1(1e-7f);
  vf a0 = vset1(seed), a1 = vadd(a0, z), a2 = vadd(a1, z), a3 = vadd(a2, z), a4 = vadd(a3, z), a5 = vadd(a4, z);
  vf a6 = vadd(a5, z), a7 = vadd(a6, z), a8 = vadd(a7, z), a9 = vadd(a8, z), a10 = vadd(a9, z), a11 = vadd(a10, z);
  auto step = [&](vf a) { return mac<Dp>(a, x, y); };
  for (long long i = 0; i < iters; ++i) {
    a0 = step(a0); a1 = step(a1); a2 = step(a2); a3 = step(a3); a4 = step(a4); a5 = step(a5);
    a6 = step(a6); a7 = step(a7); a8 = step(a8); a9 = step(a9); a10 = step(a10); a11 = step(a11);
    // keeps the 12 chains in registers and stops the compiler from folding the loop
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                     "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  return hsum(vadd(vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), vadd(a6, a7))),
                   vadd(vadd(a8, a9), vadd(a10, a11))));
}

template <bool Dp>
double peak_gflops(long long iters) {
  using namespace GATUN_NS;
  if (iters < 1) return -1.0;
  const int t = pool_threads();
  volatile float sink = 0.f;
  // 16 pieces per thread, taken dynamically: a thread that starts late or shares its core with
  // other work just does fewer pieces, so the figure is the throughput the pool really gets
  const long long pieces = 16LL * t, per = (iters + 15) / 16;
  auto body = [&](long long b, long long e) {
    for (long long i = b; i < e; ++i) sink = sink + peak_chains<Dp>(per, (float)i);
  };
  const auto t0 = std::chrono::steady_clock::now();
  parallel_for(pieces, 1, body);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return (double)pieces * per * 12 * W * (Dp ? 4 : 2) / s * 1e-9;
}
}  // namespace

extern "C" double gatun_cpu_fma_peak_gflops(long long iters) { return peak_gflops<false>(iters); }

// -1 where the bf16 flash tiles do not run on vdpbf16ps (the AVX2 build, CPUs without it, Intel's)
extern "C" double gatun_cpu_bf16_dot_peak_gflops(long long iters) {
#ifdef __AVX512BF16__
  if (GATUN_NS::bf16_dot_tiles()) return peak_gflops<true>(iters);
#endif
  (void)iters;
  return -1.0;
}
