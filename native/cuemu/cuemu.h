// cuemu C API: launch kernels compiled from kernels/*.cu with g++ against
// native/cuemu/prelude.h. Exported from libcuemu.so, libcuemu_asan.so and
// libcuemu_tsan.so. Called from Java through FFM.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CUEMU_API __attribute__((visibility("default")))

// Kernels registered by the loaded kernel libraries (CUEMU_EXPORT).
CUEMU_API int cuemu_kernel_count(void);
CUEMU_API const char* cuemu_kernel_name(int index);            // NULL if out of range
CUEMU_API int cuemu_kernel_param_count(const char* name);      // -1 if unknown kernel
CUEMU_API int cuemu_kernel_param_size(const char* name, int param);  // bytes, -1 if out of range
CUEMU_API long long cuemu_launch_count(const char* name);      // launches so far (-1 unknown)

// Runs the whole grid and returns when it is done. 0 on success; otherwise a
// nonzero code and a NUL-terminated message in error[0..error_capacity).
// Codes: 1 bad argument (unknown kernel, bad grid/block), 2 kernel error
// (barrier divergence, collective mismatch, deadlock, __trap, assert).
CUEMU_API int cuemu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                           unsigned by, unsigned bz, size_t dynamic_smem_bytes, void** args,
                           char* error, size_t error_capacity);

CUEMU_API void cuemu_set_order(int order);   // 0 forward, 1 reverse, 2 rotating
CUEMU_API int cuemu_set_workers(int n);      // n <= 0: default; returns workers in effect
CUEMU_API const char* cuemu_variant(void);   // "plain", "asan" or "tsan"

#ifdef __cplusplus
}
#endif
