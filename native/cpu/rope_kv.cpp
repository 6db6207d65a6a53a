// RoPE (NeoX and interleaved) and the fused decode-step KV append.
// Numerics (the GPU kernels follow the same recipe, so the two agree within a few ulps):
//   inv_freq_i = gatun::rope_inv_freq (kernels/rope_scaling.h: theta^(-2i/rotary_dim) with rope_scaling, one rounding)
//   angle      = (float)pos * inv_freq_i                        (one fp32 multiply)
//   c, s       = cosf(angle), sinf(angle)                       (glibc, < 1 ulp)
//   x1' = fma(x1, c, x2 * -s),  x2' = fma(x2, c, x1 * s)        (fp32, rounded once to the dtype)
// NeoX pairs feature i with i + rotary_dim/2; interleaved pairs 2i with 2i+1. Features past
// rotary_dim pass through unchanged.
#include <math.h>

#include <algorithm>
#include <vector>

#include "../../kernels/rope_scaling.h"
#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

constexpr int kMaxDim = 1 << 16;

// Per-token tables, laid out so both styles are one FMA pattern:
//   NeoX:        c[i] = cos_i, s[i] = sin_i                         for i < rd/2
//   interleaved: c[2i] = c[2i+1] = cos_i, s[2i] = -sin_i, s[2i+1] = sin_i
void token_tables(const float* inv_freq, int pos, int rd, int style, float* c, float* s) {
  const int half = rd / 2;
  const float p = (float)pos;
  for (int i = 0; i < half; ++i) {
    const float ang = p * inv_freq[i];
    float si, co;
    sincosf(ang, &si, &co);
    if (style == 0) {
      c[i] = co;
      s[i] = si;
    } else {
      c[2 * i] = c[2 * i + 1] = co;
      s[2 * i] = -si;
      s[2 * i + 1] = si;
    }
  }
}

VI vf swap_pairs(vf x) {
#ifdef GATUN_AVX512
  return _mm512_permute_ps(x, 0xB1);
#else
  return _mm256_permute_ps(x, 0xB1);
#endif
}

// dst = rope(src) over D features (dst may equal src)
template <class Dt>
void rope_row(const typename Dt::T* src, typename Dt::T* dst, int D, int rd, int style, const float* c,
              const float* s) {
  if (style == 0) {
    const int half = rd / 2;
    for (int i = 0; i < half; i += W) {
      const int n = std::min(W, half - i);
      const bool full = n == W;  // tails convert exactly like full vectors
      const vf x1 = full ? load(Dt{}, src + i) : load_tail(Dt{}, src + i, n, 0.f);
      const vf x2 = full ? load(Dt{}, src + half + i) : load_tail(Dt{}, src + half + i, n, 0.f);
      const vf cv = full ? load(F32{}, c + i) : load_tail(F32{}, c + i, n, 0.f);
      const vf sv = full ? load(F32{}, s + i) : load_tail(F32{}, s + i, n, 0.f);
      const vf o1 = vfma(x1, cv, vmul(x2, vsub(vset1(0.f), sv)));
      const vf o2 = vfma(x2, cv, vmul(x1, sv));
      if (full) {
        store(Dt{}, dst + i, o1);
        store(Dt{}, dst + half + i, o2);
      } else {
        store_tail(Dt{}, dst + i, o1, n);
        store_tail(Dt{}, dst + half + i, o2, n);
      }
    }
  } else {
    for (int i = 0; i < rd; i += W) {
      const int n = std::min(W, rd - i);  // rd even, i a multiple of W: pairs never split
      if (n == W) {
        const vf x = load(Dt{}, src + i);
        store(Dt{}, dst + i, vfma(x, load(F32{}, c + i), vmul(swap_pairs(x), load(F32{}, s + i))));
      } else {
        const vf x = load_tail(Dt{}, src + i, n, 0.f);
        const vf o = vfma(x, load_tail(F32{}, c + i, n, 0.f), vmul(swap_pairs(x), load_tail(F32{}, s + i, n, 0.f)));
        store_tail(Dt{}, dst + i, o, n);
      }
    }
  }
  if (dst != src && D > rd) memcpy(dst + rd, src + rd, (size_t)(D - rd) * sizeof(*src));
}

std::vector<float> inv_freqs(int rd, float theta, const gatun::RopeScaling& sc) {
  std::vector<float> inv(rd / 2);
  for (int i = 0; i < rd / 2; ++i) inv[i] = gatun::rope_inv_freq(i, rd, theta, sc);
  return inv;
}

int check_rope(int D, int rd, float theta, const gatun::RopeScaling& sc, int style) {
  if (D < 1 || D > kMaxDim || rd < 0 || rd > D || rd % 2 || (style != 0 && style != 1)) return GATUN_CPU_ESHAPE;
  if (rd > 0 && !(theta > 0.f && isfinite(theta))) return GATUN_CPU_ESHAPE;
  if (!(sc.factor > 0.f && isfinite(sc.factor)) || !(sc.original >= 0.f && isfinite(sc.original))) return GATUN_CPU_ESHAPE;
  if (sc.original > 0.f && !(sc.low > 0.f && sc.high > sc.low && isfinite(sc.high))) return GATUN_CPU_ESHAPE;
  return GATUN_CPU_OK;
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_rope(int dtype, void* x, const int* positions, int num_tokens, int num_heads, int head_dim,
                              int rotary_dim, float theta, float scale_factor, float scale_low, float scale_high,
                              float scale_original, int style) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  const gatun::RopeScaling scaling{scale_factor, scale_low, scale_high, scale_original};
  if (num_tokens < 0 || num_heads < 1) return GATUN_CPU_ESHAPE;
  if (int rc = check_rope(head_dim, rotary_dim, theta, scaling, style)) return rc;
  if (num_tokens == 0 || rotary_dim == 0) return GATUN_CPU_OK;
  if (!x || !positions) return GATUN_CPU_ENULL;
  if ((long long)num_tokens * num_heads * head_dim > kMaxElems) return GATUN_CPU_ESHAPE;
  const std::vector<float> inv = inv_freqs(rotary_dim, theta, scaling);
  const long long row_bytes = (long long)num_heads * head_dim * dtype_size(dtype);
  for_rows(num_tokens, row_bytes + 64LL * rotary_dim, [&](long long t0, long long t1) {
    float* tab = scratch(2LL * rotary_dim);
    float tab_stack[2 * 512];
    if (!tab) tab = rotary_dim <= 512 ? tab_stack : nullptr;
    if (!tab) return;
    for (long long t = t0; t < t1; ++t) {
      token_tables(inv.data(), positions[t], rotary_dim, style, tab, tab + rotary_dim);
      dispatch(dtype, [&](auto d) {
        using T = typename decltype(d)::T;
        T* row = (T*)x + t * num_heads * head_dim;
        for (int h = 0; h < num_heads; ++h)
          rope_row<decltype(d)>(row + h * head_dim, row + h * head_dim, head_dim, rotary_dim, style, tab,
                                tab + rotary_dim);
      });
    }
  });
  return GATUN_CPU_OK;
}

extern "C" int gatun_cpu_kv_append_rope(int dtype, void* q, const void* k, const void* v, void* k_cache,
                                        void* v_cache, const long long* slot_mapping, const int* positions,
                                        int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,
                                        int block_size, int rotary_dim, float theta, float scale_factor,
                                        float scale_low, float scale_high, float scale_original, int style) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  const gatun::RopeScaling scaling{scale_factor, scale_low, scale_high, scale_original};
  if (num_tokens < 0 || num_q_heads < 0 || num_kv_heads < 1 || block_size < 1) return GATUN_CPU_ESHAPE;
  if (int rc = check_rope(head_dim, rotary_dim, theta, scaling, style)) return rc;
  if (num_tokens == 0) return GATUN_CPU_OK;
  if (!k || !v || !k_cache || !v_cache || !slot_mapping) return GATUN_CPU_ENULL;
  if (rotary_dim > 0 && (!positions || (num_q_heads > 0 && !q))) return GATUN_CPU_ENULL;
  if ((long long)num_tokens * std::max(num_q_heads, num_kv_heads) * head_dim > kMaxElems) return GATUN_CPU_ESHAPE;
  const std::vector<float> inv = inv_freqs(rotary_dim, theta, scaling);
  const int es = dtype_size(dtype);
  const long long row_bytes = (long long)(num_q_heads + 3 * num_kv_heads) * head_dim * es;
  for_rows(num_tokens, row_bytes + 64LL * rotary_dim, [&](long long t0, long long t1) {
    float* tab = nullptr;
    float tab_stack[2 * 512];
    if (rotary_dim > 0) {
      tab = scratch(2LL * rotary_dim);
      if (!tab) tab = rotary_dim <= 512 ? tab_stack : nullptr;
      if (!tab) return;
    }
    for (long long t = t0; t < t1; ++t) {
      const long long slot = slot_mapping[t];
      if (rotary_dim > 0) token_tables(inv.data(), positions[t], rotary_dim, style, tab, tab + rotary_dim);
      dispatch(dtype, [&](auto d) {
        using Dt = decltype(d);
        using T = typename Dt::T;
        if (rotary_dim > 0) {
          T* qr = (T*)q + t * num_q_heads * head_dim;
          for (int h = 0; h < num_q_heads; ++h)
            rope_row<Dt>(qr + h * head_dim, qr + h * head_dim, head_dim, rotary_dim, style, tab, tab + rotary_dim);
        }
        if (slot < 0) return;
        // slot s -> block s / block_size, row s % block_size: with a contiguous [num_blocks, block_size, Hkv, D]
        // cache that is simply row s
        const long long cache_row = (slot / block_size) * block_size + slot % block_size;
        const T* kr = (const T*)k + t * num_kv_heads * head_dim;
        const T* vr = (const T*)v + t * num_kv_heads * head_dim;
        T* kc = (T*)k_cache + cache_row * num_kv_heads * head_dim;
        T* vc = (T*)v_cache + cache_row * num_kv_heads * head_dim;
        if (rotary_dim > 0) {
          for (int h = 0; h < num_kv_heads; ++h)
            rope_row<Dt>(kr + h * head_dim, kc + h * head_dim, head_dim, rotary_dim, style, tab, tab + rotary_dim);
        } else {
          memcpy(kc, kr, (size_t)num_kv_heads * head_dim * sizeof(T));
        }
        memcpy(vc, vr, (size_t)num_kv_heads * head_dim * sizeof(T));
      });
    }
  });
  return GATUN_CPU_OK;
}
