// cuemu prelude: the only header a kernel in kernels/ includes.
//
// Under nvcc (__CUDACC__) it only adds the two project macros and kWarp.
// Under g++ it turns the kernel source into ordinary C++ that runs on the
// cuemu fiber runtime (native/cuemu/*.cpp, overview in runtime_internal.h):
// every CUDA thread is a fiber, __syncthreads is a checked barrier, warp
// collectives go through a per-warp exchange area and check their masks.
#pragma once

#if defined(__CUDACC__)

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>

#define DYNAMIC_SMEM(T, name)                                              \
  extern __shared__ __align__(16) unsigned char cuemu_dynamic_smem_[];     \
  T* name = reinterpret_cast<T*>(cuemu_dynamic_smem_)
#define CUEMU_EXPORT(kernel) static_assert(true, "")
constexpr int kWarp = 32;

#else  // ------------------------------------------------------------ host

#if defined(__SANITIZE_ADDRESS__) && !defined(CUEMU_ASAN)
#define CUEMU_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CUEMU_TSAN)
#define CUEMU_TSAN 1
#endif

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <vector_types.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

// The CUDA headers define these for a host compiler already; make them
// exactly what cuemu needs.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __restrict__
#undef __launch_bounds__
#undef __align__
#undef __shared__
#undef __constant__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
#define __constant__ static
#if defined(CUEMU_ASAN) || defined(CUEMU_TSAN)
// ASan does not instrument thread_local storage; sanitizer builds run one
// block at a time on one worker, so plain statics are per running block.
#define __shared__ static
#else
// One worker OS thread runs one block at a time.
#define __shared__ static thread_local
#endif

constexpr int kWarp = 32;
static constexpr int warpSize = 32;

namespace cuemu {

// What threadIdx & co. read: the state of the fiber that is running on this
// worker thread (set by the runtime before every switch into a fiber).
struct ThreadCtx {
  uint3 threadIdx;
  uint3 blockIdx;
  dim3 blockDim;
  dim3 gridDim;
};

enum Collective : int {
  kSyncWarp = 0,
  kShflIdx,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kReduceAddU,
  kReduceMinU,
  kReduceMaxU,
  kReduceMinI,
  kReduceMaxI,
  kReduceAnd,
  kReduceOr,
  kReduceXor,
  // nvcuda::wmma (wmma.h): full warp, lanes exchange pointers (warp_exchange)
  kWmmaLoad,
  kWmmaStore,
  kWmmaMma,
};

enum BarrierOp : int { kBarNone = 0, kBarCount, kBarAnd, kBarOr };

// Exported by libcuemu*.so.
extern __thread ThreadCtx* tls_ctx;
int barrier(const char* file, int line, int id, int op, int pred);
unsigned long long collective(int kind, unsigned mask, unsigned long long value, int arg,
                              int width, const char* file, int line);
#if defined(CUEMU_ASAN)
// Not declared noreturn for ASan: the __asan_handle_no_return it would add
// before the call misreads a fiber stack. It never returns all the same.
void trap(const char* file, int line);
#else
[[noreturn]] void trap(const char* file, int line);
#endif
void* dynamic_smem();
// Warp-wide exchange for the emulated MMA paths (wmma.h): all 32 lanes of a
// full warp call it at one call site with the same kind and fn; lane_data
// points at the calling lane's data. When the last lane arrives, fn runs once,
// on that lane, with lanes[l] = lane l's lane_data; a non-null return (a
// message, may be written into buf) fails the launch. Happens-before as for
// the other collectives: everything each lane did before the call happens
// before fn and before everything each lane does after it.
using WarpFn = const char* (*)(void* const* lanes, char* buf, size_t cap);
void warp_exchange(int kind, void* lane_data, WarpFn fn, const char* file, int line);
// Fails the launch with msg, attributed to the calling thread at file:line.
#if defined(CUEMU_ASAN)
void kernel_error(const char* file, int line, const char* msg);
#else
[[noreturn]] void kernel_error(const char* file, int line, const char* msg);
#endif
void register_kernel(const char* name, void (*tramp)(void**), int nparams, const int* sizes);
void unregister_kernel(const char* name, void (*tramp)(void**));

// ------------------------------------------------------------ registration
template <typename F>
struct KernelTraits;

template <typename... A>
struct KernelTraits<void (*)(A...)> {
  static constexpr int count = int(sizeof...(A));
  static const int* sizes() {
    static const int s[] = {int(sizeof(A))..., 0};
    return s;
  }
  template <void (*F)(A...), std::size_t... I>
  static void invoke(void** args, std::index_sequence<I...>) {
    (void)args;
    F(*static_cast<std::remove_cv_t<A>*>(args[I])...);
  }
  template <void (*F)(A...)>
  static void trampoline(void** args) {
    invoke<F>(args, std::index_sequence_for<A...>{});
  }
};

struct Registrar {
  const char* name;
  void (*tramp)(void**);
  Registrar(const char* n, void (*t)(void**), int count, const int* sizes) : name(n), tramp(t) {
    register_kernel(n, t, count, sizes);
  }
  ~Registrar() { unregister_kernel(name, tramp); }
};

// ------------------------------------------------------------ collectives
template <typename T>
inline unsigned long long to_bits(T v) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8,
                "cuemu: warp shuffle of a type wider than 8 bytes");
  unsigned long long b = 0;
  memcpy(&b, static_cast<const void*>(&v), sizeof(T));
  return b;
}
template <typename T>
inline T from_bits(unsigned long long b) {
  T v;
  memcpy(static_cast<void*>(&v), &b, sizeof(T));
  return v;
}
template <typename T>
inline T shfl(int kind, const char* f, int l, unsigned mask, T var, int arg, int width) {
  return from_bits<T>(collective(kind, mask, to_bits(var), arg, width, f, l));
}
inline unsigned long long ballot(int kind, const char* f, int l, unsigned mask, int pred) {
  return collective(kind, mask, pred != 0, 0, 32, f, l);
}
template <typename T>
inline T reduce(int kind, const char* f, int l, unsigned mask, T v) {
  return (T)collective(kind, mask, (unsigned long long)(unsigned)v, 0, 32, f, l);
}

// __syncwarp() / __syncwarp(mask) with the call site attached.
struct SyncWarpAt {
  const char* file;
  int line;
  void operator()(unsigned mask = 0xffffffffu) const { collective(kSyncWarp, mask, 0, 0, 32, file, line); }
};

}  // namespace cuemu

#define threadIdx (::cuemu::tls_ctx->threadIdx)
#define blockIdx (::cuemu::tls_ctx->blockIdx)
#define blockDim (::cuemu::tls_ctx->blockDim)
#define gridDim (::cuemu::tls_ctx->gridDim)

#define __syncthreads() ((void)::cuemu::barrier(__FILE__, __LINE__, __COUNTER__, ::cuemu::kBarNone, 0))
#define __syncthreads_count(p) ::cuemu::barrier(__FILE__, __LINE__, __COUNTER__, ::cuemu::kBarCount, (p) ? 1 : 0)
#define __syncthreads_and(p) ::cuemu::barrier(__FILE__, __LINE__, __COUNTER__, ::cuemu::kBarAnd, (p) ? 1 : 0)
#define __syncthreads_or(p) ::cuemu::barrier(__FILE__, __LINE__, __COUNTER__, ::cuemu::kBarOr, (p) ? 1 : 0)

#define CUEMU_SHFL_4(k, m, v, a) ::cuemu::shfl(k, __FILE__, __LINE__, m, v, (int)(a), 32)
#define CUEMU_SHFL_5(k, m, v, a, w) ::cuemu::shfl(k, __FILE__, __LINE__, m, v, (int)(a), (int)(w))
#define CUEMU_SHFL_PICK(_1, _2, _3, _4, _5, NAME, ...) NAME
#define CUEMU_SHFL(...) CUEMU_SHFL_PICK(__VA_ARGS__, CUEMU_SHFL_5, CUEMU_SHFL_4, )(__VA_ARGS__)
#define __shfl_sync(...) CUEMU_SHFL(::cuemu::kShflIdx, __VA_ARGS__)
#define __shfl_up_sync(...) CUEMU_SHFL(::cuemu::kShflUp, __VA_ARGS__)
#define __shfl_down_sync(...) CUEMU_SHFL(::cuemu::kShflDown, __VA_ARGS__)
#define __shfl_xor_sync(...) CUEMU_SHFL(::cuemu::kShflXor, __VA_ARGS__)

#define __syncwarp(...) (::cuemu::SyncWarpAt{__FILE__, __LINE__}(__VA_ARGS__))

#define __ballot_sync(m, p) ((unsigned)::cuemu::ballot(::cuemu::kBallot, __FILE__, __LINE__, (m), (p)))
#define __any_sync(m, p) ((int)::cuemu::ballot(::cuemu::kAny, __FILE__, __LINE__, (m), (p)))
#define __all_sync(m, p) ((int)::cuemu::ballot(::cuemu::kAll, __FILE__, __LINE__, (m), (p)))

#define __reduce_add_sync(m, v) ::cuemu::reduce(::cuemu::kReduceAddU, __FILE__, __LINE__, (m), (v))
#define __reduce_min_sync(m, v) \
  ::cuemu::reduce(std::is_signed<decltype(v)>::value ? ::cuemu::kReduceMinI : ::cuemu::kReduceMinU, __FILE__, __LINE__, (m), (v))
#define __reduce_max_sync(m, v) \
  ::cuemu::reduce(std::is_signed<decltype(v)>::value ? ::cuemu::kReduceMaxI : ::cuemu::kReduceMaxU, __FILE__, __LINE__, (m), (v))
#define __reduce_and_sync(m, v) ::cuemu::reduce(::cuemu::kReduceAnd, __FILE__, __LINE__, (m), (v))
#define __reduce_or_sync(m, v) ::cuemu::reduce(::cuemu::kReduceOr, __FILE__, __LINE__, (m), (v))
#define __reduce_xor_sync(m, v) ::cuemu::reduce(::cuemu::kReduceXor, __FILE__, __LINE__, (m), (v))

#define __trap() ::cuemu::trap(__FILE__, __LINE__)

#define DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(::cuemu::dynamic_smem())

#define CUEMU_CAT2_(a, b) a##b
#define CUEMU_CAT_(a, b) CUEMU_CAT2_(a, b)
#define CUEMU_EXPORT(kernel)                                                              \
  static ::cuemu::Registrar CUEMU_CAT_(cuemu_registrar_, kernel)(                         \
      #kernel, &::cuemu::KernelTraits<decltype(&kernel)>::template trampoline<&kernel>,    \
      ::cuemu::KernelTraits<decltype(&kernel)>::count,                                    \
      ::cuemu::KernelTraits<decltype(&kernel)>::sizes())

// ------------------------------------------------------------ fences, clocks
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
inline void __nanosleep(unsigned) {}

// ------------------------------------------------------------ loads / stores with cache hints
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldca(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldlu(const T* p) { return *p; }
template <typename T> inline T __ldcv(const T* p) { return *p; }
template <typename T> inline void __stwb(T* p, T v) { *p = v; }
template <typename T> inline void __stcg(T* p, T v) { *p = v; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
template <typename T> inline void __stwt(T* p, T v) { *p = v; }

// ------------------------------------------------------------ atomics (real atomics)
#define CUEMU_ATOMIC_INT(T)                                                                              \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                  \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }                  \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                  \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                    \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                  \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                \
  inline T atomicCAS(T* a, T cmp, T v) {                                                                 \
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                  \
    return cmp;                                                                                          \
  }                                                                                                      \
  inline T atomicMax(T* a, T v) {                                                                        \
    T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                                        \
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) \
      ;                                                                                                  \
    return old;                                                                                          \
  }                                                                                                      \
  inline T atomicMin(T* a, T v) {                                                                        \
    T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                                        \
    while (old > v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) \
      ;                                                                                                  \
    return old;                                                                                          \
  }
CUEMU_ATOMIC_INT(int)
CUEMU_ATOMIC_INT(unsigned)
CUEMU_ATOMIC_INT(long long)
CUEMU_ATOMIC_INT(unsigned long long)
#undef CUEMU_ATOMIC_INT
inline unsigned short atomicCAS(unsigned short* a, unsigned short cmp, unsigned short v) {
  __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return cmp;
}
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(a, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED))
    ;
  return old;
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(a, &old, (old == 0u || old > limit) ? limit : old - 1u, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  return old;
}

namespace cuemu {
// Read-modify-write of a non-integer type through a CAS loop on its bits.
template <typename T, typename U, typename F>
inline T atomic_rmw(T* addr, F op) {
  static_assert(sizeof(T) == sizeof(U), "");
  U* a = reinterpret_cast<U*>(addr);
  U old = __atomic_load_n(a, __ATOMIC_RELAXED);
  for (;;) {
    T o;
    memcpy(static_cast<void*>(&o), &old, sizeof(T));
    T n = op(o);
    U nb;
    memcpy(&nb, static_cast<const void*>(&n), sizeof(T));
    if (__atomic_compare_exchange_n(a, &old, nb, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return o;
  }
}
}  // namespace cuemu

inline float atomicAdd(float* a, float v) {
  return ::cuemu::atomic_rmw<float, unsigned>(a, [v](float o) { return o + v; });
}
inline double atomicAdd(double* a, double v) {
  return ::cuemu::atomic_rmw<double, unsigned long long>(a, [v](double o) { return o + v; });
}
inline __half atomicAdd(__half* a, __half v) {
  return ::cuemu::atomic_rmw<__half, unsigned short>(
      a, [v](__half o) { return __float2half(__half2float(o) + __half2float(v)); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* a, __nv_bfloat16 v) {
  return ::cuemu::atomic_rmw<__nv_bfloat16, unsigned short>(
      a, [v](__nv_bfloat16 o) { return __float2bfloat16(__bfloat162float(o) + __bfloat162float(v)); });
}
inline __half2 atomicAdd(__half2* a, __half2 v) {
  return ::cuemu::atomic_rmw<__half2, unsigned>(a, [v](__half2 o) {
    float2 x = __half22float2(o), y = __half22float2(v);
    return __floats2half2_rn(x.x + y.x, x.y + y.y);
  });
}
inline float atomicExch(float* a, float v) {
  return ::cuemu::atomic_rmw<float, unsigned>(a, [v](float) { return v; });
}
inline float atomicMax(float* a, float v) {
  return ::cuemu::atomic_rmw<float, unsigned>(a, [v](float o) { return fmaxf(o, v); });
}
inline float atomicMin(float* a, float v) {
  return ::cuemu::atomic_rmw<float, unsigned>(a, [v](float o) { return fminf(o, v); });
}

// ------------------------------------------------------------ integer / bit intrinsics
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline int __mul24(int a, int b) { return (int)((long long)((a << 8) >> 8) * ((b << 8) >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) {
  s &= 31u;
  return s == 0 ? hi : (hi << s) | (lo >> (32 - s));
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) {
  s &= 31u;
  return s == 0 ? lo : (lo >> s) | (hi << (32 - s));
}
inline int __float_as_int(float x) { int r; memcpy(&r, &x, 4); return r; }
inline unsigned __float_as_uint(float x) { unsigned r; memcpy(&r, &x, 4); return r; }
inline float __int_as_float(int x) { float r; memcpy(&r, &x, 4); return r; }
inline float __uint_as_float(unsigned x) { float r; memcpy(&r, &x, 4); return r; }
inline long long __double_as_longlong(double x) { long long r; memcpy(&r, &x, 8); return r; }
inline double __longlong_as_double(long long x) { double r; memcpy(&r, &x, 8); return r; }

// ------------------------------------------------------------ float intrinsics (device-only in CUDA)
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __saturatef(float x) { return x != x ? 0.0f : fminf(fmaxf(x, 0.0f), 1.0f); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline unsigned __float2uint_rz(float x) { return (unsigned)x; }
inline long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
inline long long __float2ll_rz(float x) { return (long long)x; }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __ll2float_rn(long long x) { return (float)x; }
inline float __ull2float_rn(unsigned long long x) { return (float)x; }
inline int __double2int_rn(double x) { return (int)nearbyint(x); }
inline float __double2float_rn(double x) { return (float)x; }

// ------------------------------------------------------------ min / max as CUDA has them
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline long long min(int a, long long b) { return min((long long)a, b); }
inline long long max(int a, long long b) { return max((long long)a, b); }
inline long long min(long long a, int b) { return min(a, (long long)b); }
inline long long max(long long a, int b) { return max(a, (long long)b); }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin((double)a, b); }
inline double max(float a, double b) { return fmax((double)a, b); }
inline double min(double a, float b) { return fmin(a, (double)b); }
inline double max(double a, float b) { return fmax(a, (double)b); }

// ------------------------------------------------------------ half / bfloat16 intrinsics missing on the host
// The host headers already provide the arithmetic/comparison intrinsics
// (__hadd, __hmul, __hmax, __hlt, __hadd2, ...); these are the device-only ones.
#define CUEMU_LOWP(T, TO, FROM)                                                        \
  inline T __hfma(T a, T b, T c) { return FROM(fmaf(TO(a), TO(b), TO(c))); }        \
  inline T hexp(T a) { return FROM(expf(TO(a))); }                                  \
  inline T hexp2(T a) { return FROM(exp2f(TO(a))); }                                \
  inline T hlog(T a) { return FROM(logf(TO(a))); }                                  \
  inline T hlog2(T a) { return FROM(log2f(TO(a))); }                                \
  inline T hsqrt(T a) { return FROM(sqrtf(TO(a))); }                                \
  inline T hrsqrt(T a) { return FROM(1.0f / sqrtf(TO(a))); }                        \
  inline T hrcp(T a) { return FROM(1.0f / TO(a)); }                                 \
  inline T hsin(T a) { return FROM(sinf(TO(a))); }                                  \
  inline T hcos(T a) { return FROM(cosf(TO(a))); }                                  \
  inline T htanh(T a) { return FROM(tanhf(TO(a))); }                                \
  inline T hfloor(T a) { return FROM(floorf(TO(a))); }                              \
  inline T hceil(T a) { return FROM(ceilf(TO(a))); }
CUEMU_LOWP(__half, __half2float, __float2half_rn)
CUEMU_LOWP(__nv_bfloat16, __bfloat162float, __float2bfloat16_rn)
#undef CUEMU_LOWP

#define CUEMU_LOWP2(T2, TO2, FROM2)                                                              \
  inline T2 __hfma2(T2 a, T2 b, T2 c) {                                                        \
    float2 x = TO2(a), y = TO2(b), z = TO2(c);                                                  \
    return FROM2(float2{fmaf(x.x, y.x, z.x), fmaf(x.y, y.y, z.y)});                             \
  }                                                                                              \
  inline T2 h2exp(T2 a) { float2 x = TO2(a); return FROM2(float2{expf(x.x), expf(x.y)}); }     \
  inline T2 h2sqrt(T2 a) { float2 x = TO2(a); return FROM2(float2{sqrtf(x.x), sqrtf(x.y)}); }
CUEMU_LOWP2(__half2, __half22float2, __float22half2_rn)
CUEMU_LOWP2(__nv_bfloat162, __bfloat1622float2, __float22bfloat162_rn)
#undef CUEMU_LOWP2

inline __half __bfloat162half(__nv_bfloat16 x) { return __float2half_rn(__bfloat162float(x)); }
inline __nv_bfloat16 __half2bfloat16(__half x) { return __float2bfloat16_rn(__half2float(x)); }

#include "wmma.h"

#endif  // __CUDACC__
