// Gatun CPU device: vectorized, multi-threaded kernels (C API for Java FFM).
// Built twice from the same sources: x86-64-v3 (AVX2+FMA+F16C) and avx512 (x86-64-v4 + BF16).
// Java loads the v3 library, asks gatun_cpu_has_avx512(), and loads the avx512 one if it says 1.
#ifndef GATUN_CPU_H
#define GATUN_CPU_H

#define GATUN_CPU_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

// dtype codes
enum { GATUN_F32 = 0, GATUN_F16 = 1, GATUN_BF16 = 2 };

// return codes (0 = success); Java validates first, these are a last guard
enum {
  GATUN_CPU_OK = 0,
  GATUN_CPU_EDTYPE = 1,   // unknown dtype
  GATUN_CPU_ENULL = 2,    // null pointer where data is needed
  GATUN_CPU_ESHAPE = 3,   // rows < 0, cols < 1, bytes < 0, or sizes too large
  GATUN_CPU_ESTRIDE = 4,  // |stride| < cols with rows > 1
  GATUN_CPU_EALIAS = 5    // x == y with different strides
};

GATUN_CPU_API int         gatun_cpu_has_avx512(void);       // cpuid+xgetbv: avx512 f+bw+vl+dq usable
GATUN_CPU_API int         gatun_cpu_has_avx512_bf16(void);  // ... and avx512_bf16
GATUN_CPU_API const char* gatun_cpu_isa(void);              // "x86-64-v3" or "avx512": what this library was compiled for
GATUN_CPU_API int         gatun_cpu_set_threads(int n);     // 0 = all hardware threads; returns threads in effect
GATUN_CPU_API int         gatun_cpu_threads(void);

// Strides are in elements. Input and output rows may not alias unless x == y exactly (in place).
// Math is fp32 for every dtype; a row's result never depends on thread count or batch.
GATUN_CPU_API int gatun_cpu_softmax(int dtype, const void* x, long long x_stride, void* y, long long y_stride,
                                    long long rows, long long cols);
// weight: cols elements of the same dtype, or NULL for no weight
GATUN_CPU_API int gatun_cpu_rms_norm(int dtype, const void* x, long long x_stride, const void* weight, float eps,
                                     void* y, long long y_stride, long long rows, long long cols);
GATUN_CPU_API int gatun_cpu_row_sum(int dtype, const void* x, long long x_stride, float* out,
                                    long long rows, long long cols);
// Copy-bandwidth probe (the ceiling for elementwise ops): multi-threaded memcpy, streaming stores when large.
GATUN_CPU_API int gatun_cpu_copy(void* dst, const void* src, long long bytes);

#ifdef __cplusplus
}
#endif
#endif
