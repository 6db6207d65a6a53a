// Per-ISA vector helpers: one fp32 vector type `vf` of W lanes, loads/stores that convert
// f32/f16/bf16 <-> fp32, partial (tail) loads/stores, and a vectorized expf.
// Internal code lives in an ISA-named namespace with hidden visibility, so the v3 and avx512
// libraries never bind to each other's symbols when both are loaded into one process.
#ifndef GATUN_CPU_VEC_H
#define GATUN_CPU_VEC_H

#include <immintrin.h>
#include <atomic>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#define GATUN_AVX512 1
#define GATUN_NS gatun_cpu_avx512
#else
#define GATUN_NS gatun_cpu_v3
#endif

#pragma GCC visibility push(hidden)
namespace GATUN_NS {

// dtype tags
struct F32  { using T = float; };
struct F16  { using T = uint16_t; };
struct BF16 { using T = uint16_t; };

#define VI static inline __attribute__((always_inline))

// the AMD family of the core (0x19 Zen 4, 0x1A Zen 5; cpuid, cpu_info.cpp), 0 on other vendors: for
// kernels whose best prefetch hint differs between cores
extern const int amd_family;
// bytes of L2 per core (cpuid, cpu_info.cpp): for kernels that size their blocking to it
extern const long long l2_bytes;

#ifdef GATUN_AVX512
constexpr int W = 16;
using vf = __m512;
VI vf vset1(float a) { return _mm512_set1_ps(a); }
VI vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
VI vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
VI vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
VI vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
VI vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
VI float hsum(vf a) { return _mm512_reduce_add_ps(a); }  // fixed tree: deterministic
VI float hmax(vf a) { return _mm512_reduce_max_ps(a); }
// W sums at once: lane i of the result = sum of the lanes of r[i] (a fixed tree per source, so
// lane i never depends on the other sources). 45 shuffles and adds instead of 16 hsums.
VI vf hsum_lanes(const vf* r) {
  vf t[8], u[4], x[2];
  for (int i = 0; i < 8; ++i)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]), _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]));
  for (int i = 0; i < 4; ++i)  // per 128-bit lane k: the lane-k sums of 4 sources
    u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0x44), _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0xEE));
  for (int i = 0; i < 2; ++i)  // lanes 0+1 and 2+3 of two groups
    x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0x88), _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88), _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
}
VI __mmask16 tmask(long long n) { return (__mmask16)((1u << n) - 1); }  // 0 < n < W
VI vf keep(vf v, long long n) { return _mm512_maskz_mov_ps(tmask(n), v); }  // zero lanes >= n

VI vf load(F32, const float* p) { return _mm512_loadu_ps(p); }
VI vf load(F16, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
VI vf bf16_widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
VI vf load(BF16, const uint16_t* p) { return bf16_widen(_mm256_loadu_si256((const __m256i*)p)); }
// 2W bf16 values as fp32: lanes of `even` = elements 0, 2, .., of `odd` = elements 1, 3, ..: a bf16 is
// the high half of its fp32, so a shift and a mask of the 32-bit pairs widen them with no shuffle
// (on Intel cores the shuffle port is one of the two 512-bit FMA ports)
VI void load_bf16_pairs(const uint16_t* p, vf& even, vf& odd) {
  const __m512i w = _mm512_loadu_si512(p);
  even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32((int)0xFFFF0000u)));
}
// lanes >= n get `fill`
VI vf load_tail(F32, const float* p, long long n, float fill) { return _mm512_mask_loadu_ps(vset1(fill), tmask(n), p); }
VI vf load_tail(F16, const uint16_t* p, long long n, float fill) {
  return _mm512_mask_blend_ps(tmask(n), vset1(fill), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tmask(n), p)));
}
VI vf load_tail(BF16, const uint16_t* p, long long n, float fill) {
  return _mm512_mask_blend_ps(tmask(n), vset1(fill), bf16_widen(_mm256_maskz_loadu_epi16(tmask(n), p)));
}

VI __m256i to_f16(vf v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
#ifdef __AVX512BF16__
// This library may run on AVX-512 machines without BF16: use the instructions only if cpuid has them
// (and gatun_cpu_use_avx512_bf16 has not turned them off). Read with use_bf16_hw().
extern std::atomic<bool> bf16_hw;
VI bool use_bf16_hw() { return bf16_hw.load(std::memory_order_relaxed); }
#endif
VI __m256i to_bf16(vf v) {
#ifdef __AVX512BF16__
  if (use_bf16_hw()) return (__m256i)_mm512_cvtneps_pbh(v);  // RNE in hardware (denormal inputs flush to 0)
#endif
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);  // keep NaN a (quiet) NaN
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}
VI void store(F32, float* p, vf v) { _mm512_storeu_ps(p, v); }
VI void store(F16, uint16_t* p, vf v) { _mm256_storeu_si256((__m256i*)p, to_f16(v)); }
VI void store(BF16, uint16_t* p, vf v) { _mm256_storeu_si256((__m256i*)p, to_bf16(v)); }
VI void store_tail(F32, float* p, vf v, long long n) { _mm512_mask_storeu_ps(p, tmask(n), v); }
VI void store_tail(F16, uint16_t* p, vf v, long long n) { _mm256_mask_storeu_epi16(p, tmask(n), to_f16(v)); }
VI void store_tail(BF16, uint16_t* p, vf v, long long n) { _mm256_mask_storeu_epi16(p, tmask(n), to_bf16(v)); }
// Streaming (non-temporal) stores: p must be aligned to W * sizeof(T).
VI void store_nt(F32, float* p, vf v) { _mm512_stream_ps(p, v); }
VI void store_nt(F16, uint16_t* p, vf v) { _mm256_stream_si256((__m256i*)p, to_f16(v)); }
VI void store_nt(BF16, uint16_t* p, vf v) { _mm256_stream_si256((__m256i*)p, to_bf16(v)); }

#else  // AVX2 + FMA + F16C
constexpr int W = 8;
using vf = __m256;
VI vf vset1(float a) { return _mm256_set1_ps(a); }
VI vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
VI vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
VI vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
VI vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
VI vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
VI float hsum(vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
// W sums at once: lane i of the result = sum of the lanes of r[i] (a fixed tree per source)
VI vf hsum_lanes(const vf* r) {
  vf t[4], u[2];
  for (int i = 0; i < 4; ++i)
    t[i] = _mm256_add_ps(_mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]), _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]));
  for (int i = 0; i < 2; ++i)
    u[i] = _mm256_add_ps(_mm256_shuffle_ps(t[2 * i], t[2 * i + 1], 0x44), _mm256_shuffle_ps(t[2 * i], t[2 * i + 1], 0xEE));
  return _mm256_add_ps(_mm256_permute2f128_ps(u[0], u[1], 0x20), _mm256_permute2f128_ps(u[0], u[1], 0x31));
}
VI float hmax(vf a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
VI __m256 tmask(long long n) {  // all-ones in lanes < n
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}
VI vf keep(vf v, long long n) { return _mm256_and_ps(v, tmask(n)); }

VI vf load(F32, const float* p) { return _mm256_loadu_ps(p); }
VI vf load(F16, const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
VI vf load(BF16, const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
VI void load_bf16_pairs(const uint16_t* p, vf& even, vf& odd) {  // as the AVX-512 one above
  const __m256i w = _mm256_loadu_si256((const __m256i*)p);
  even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32((int)0xFFFF0000u)));
}
// Tails go through a small buffer so they convert exactly like full vectors.
template <class D>
VI vf load_tail(D d, const typename D::T* p, long long n, float fill) {
  typename D::T buf[W] = {};
  memcpy(buf, p, n * sizeof(*p));
  return _mm256_blendv_ps(vset1(fill), load(d, buf), tmask(n));
}

VI __m128i to_f16(vf v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
VI __m128i to_bf16(vf v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  r = _mm256_blendv_epi8(r, qnan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  __m256i packed = _mm256_packus_epi32(r, r);  // values fit in 16 bits; packs per 128-bit lane
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}
VI void store(F32, float* p, vf v) { _mm256_storeu_ps(p, v); }
VI void store(F16, uint16_t* p, vf v) { _mm_storeu_si128((__m128i*)p, to_f16(v)); }
VI void store(BF16, uint16_t* p, vf v) { _mm_storeu_si128((__m128i*)p, to_bf16(v)); }
template <class D>
VI void store_tail(D d, typename D::T* p, vf v, long long n) {
  typename D::T buf[W];
  store(d, buf, v);
  memcpy(p, buf, n * sizeof(*p));
}
VI void store_nt(F32, float* p, vf v) { _mm256_stream_ps(p, v); }
VI void store_nt(F16, uint16_t* p, vf v) { _mm_stream_si128((__m128i*)p, to_f16(v)); }
VI void store_nt(BF16, uint16_t* p, vf v) { _mm_stream_si128((__m128i*)p, to_bf16(v)); }
#endif

// c[0] r^(N-1) + ... + c[N-1] by Horner's rule, one FMA per coefficient
template <int N>
VI vf horner(vf r, const float (&c)[N]) {
  vf p = vset1(c[0]);
#pragma GCC unroll 8
  for (int i = 1; i < N; ++i) p = vfma(p, r, vset1(c[i]));
  return p;
}

// p * 2^n for integral n in [-150, 128], with correct overflow and underflow
VI vf scale_pow2(vf p, vf n) {
#ifdef GATUN_AVX512
  return _mm512_scalef_ps(p, n);
#else
  // 2^n as two factors so n never leaves the normal exponent range
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  vf s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  vf s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return vmul(vmul(p, s1), s2);
#endif
}

// y, or exactly 0 in the lanes where x < lo (NaN lanes keep y): by a mask, not arithmetic, so the
// exp functions below never return a subnormal. Intel cores take a microcode assist for each
// subnormal result (measured on a Xeon with AMX: a softmax whose rows are half -inf 6x slower, one
// whose logits span 200 16x slower; an exp2 vector with a -inf lane in 7 65x slower).
VI vf zero_below(vf y, vf x, vf lo) {
#ifdef GATUN_AVX512
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), y);
#else
  return _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_NLT_UQ));
#endif
}

// expf for all lanes, ~1-2 ulp: n = round(x/ln2), r = x - n*ln2 (two-part ln2),
// Cephes degree-6 polynomial on |r| <= ln2/2, then scale by 2^n.
// x >= 89 -> +inf, x < -87 (and -inf) -> exactly 0, NaN -> NaN. e^-87 = 1.6e-38 is just above
// FLT_MIN (1.2e-38): no result is subnormal, and the few normal ones between the two become 0 too.
VI vf vexp(vf x) {
  const vf lo = vset1(-87.0f), x0 = x;  // n >= -126 and e^r >= 1.4 at n = -126: a normal result
  x = vmax(lo, x);  // max/min return the second operand for NaN: NaN survives
#ifdef GATUN_AVX512
  x = _mm512_min_ps(vset1(89.0f), x);
  vf n = _mm512_roundscale_ps(vmul(x, vset1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  x = _mm256_min_ps(vset1(89.0f), x);
  vf n = _mm256_round_ps(vmul(x, vset1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#endif
  vf r = vfma(n, vset1(-0.693359375f), x);
  r = vfma(n, vset1(2.12194440e-4f), r);
  vf p = horner(r, {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                    5.0000001201e-1f});
  p = vadd(vfma(p, vmul(r, r), r), vset1(1.0f));
  return zero_below(scale_pow2(p, n), x0, lo);
}

// 2^x for all lanes, ~1-2 ulp: n = round(x), r = x - n (exact), degree-7 Taylor polynomial of 2^r on
// |r| <= 1/2 (truncation 5e-9), then scale by 2^n. x >= 128 -> +inf, x < -125 (and -inf) -> exactly
// 0 (none is subnormal), NaN -> NaN. The flash tiles' softmax feeds this its masked -inf scores.
VI vf vexp2(vf x) {
  const vf lo = vset1(-125.0f), x0 = x;  // n >= -125 and 2^r >= 2^-1/2: a normal result
  x = vmax(lo, x);
#ifdef GATUN_AVX512
  x = _mm512_min_ps(vset1(128.0f), x);
  const vf n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  x = _mm256_min_ps(vset1(128.0f), x);
  const vf n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#endif
  const vf r = vsub(x, n);
  const vf p = horner(r, {1.5252733804059841e-5f, 1.5403530393381608e-4f, 1.3333558146428443e-3f, 9.6181291076284772e-3f,
                          5.5504108664821580e-2f, 2.4022650695910071e-1f, 6.9314718055994531e-1f, 1.0f});
  return zero_below(scale_pow2(p, n), x0, lo);
}

// In-register W x W transpose: r[i] lane j <- r[j] lane i.
#ifdef GATUN_AVX512
VI void transpose(vf r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int j = 0; j < 4; ++j) {
    __m512d a = _mm512_castps_pd(t[4 * j]), b = _mm512_castps_pd(t[4 * j + 1]);
    __m512d c = _mm512_castps_pd(t[4 * j + 2]), d = _mm512_castps_pd(t[4 * j + 3]);
    u[4 * j + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // u[4j + c], 128-bit lane l = column 4l + c of rows 4j..4j+3: transpose the 4x4 lane grid
  for (int c = 0; c < 4; ++c) {
    __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}
#else
VI void transpose(vf r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int j = 0; j < 2; ++j) {  // u[4j + c], lane l = column 4l + c of rows 4j..4j+3
    u[4 * j + 0] = _mm256_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
    u[4 * j + 1] = _mm256_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
    u[4 * j + 2] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
    u[4 * j + 3] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}
#endif

}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
