// cudashim.h — the test-only CUDA driver shim over cuemu (libgatun_cudashim.so).
//
// The library exports the driver API subset Gatun's binding uses (CudaDriver.java) with
// cuda.h's signatures and symbol names, and runs kernels through cuemu. Besides those it
// exports the control functions below, called by the Java test harness through FFM.
//
// Every key of gatun_cudashim_configure can also be given by the environment, read at the
// first cuInit: GATUN_CUDASHIM_<KEY in upper case>, e.g. GATUN_CUDASHIM_MEMORY_MB=1024.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Sets a knob. Returns 0 ok, 1 unknown key, 2 bad value (or unreadable file), 3 too late
// (memory_mb after the first allocation).
//   resources      path of kernel-resources.txt (ptxas --resource-usage report); loaded now.
//                  Default: kernel-resources.txt beside libcuemu.so, else beside the shim.
//   memory_mb      device memory pool size in MiB (default 4096); before the first cuMemAlloc.
//   fail_alloc     N>0: the Nth cuMemAlloc from now fails with CUDA_ERROR_OUT_OF_MEMORY (once); 0 off.
//   fail_launch    N>0: the Nth cuLaunchKernel from now fails with CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
//                  (recoverable, the kernel does not run); 0 off.
//   sticky_launch  N>0: the Nth cuLaunchKernel from now fails with CUDA_ERROR_ILLEGAL_ADDRESS and
//                  poisons the context (sticky) until the primary context is reset; 0 off.
//   ptx_jit        1: accept a fatbin without an sm_90 cubin when it has PTX the driver could
//                  JIT (a real driver does); 0 (default): CUDA_ERROR_NO_BINARY_FOR_GPU.
//   poison_alloc   1: fill new allocations with 0xFF bytes (NaN for floats); 0 (default): zeros.
//   verbose        1: print every error with its detail to stderr; 0 (default): only sticky
//                  errors and kernel failures, each once.
//   clear_faults   any value: cancels pending fail_alloc/fail_launch/sticky_launch.
int gatun_cudashim_configure(const char* key, const char* value);

// Live device allocations (count and bytes as requested) of the current context.
long long gatun_cudashim_live_allocations(void);
long long gatun_cudashim_live_bytes(void);

// Counters by name, -1 for an unknown name: "live_allocations", "live_bytes",
// "committed_bytes" (page-rounded), "pool_bytes", "allocations", "frees", "launches"
// (kernels run), "library_calls" (cuBLAS calls run, cublas.cpp), "resets" (primary context
// destroyed), "freed_by_reset" (allocations a reset had to free: leaks of the code that
// released the context), "modules", "streams", "events", "sticky" (the sticky CUresult now,
// 0 if none), "ctx_refcount".
long long gatun_cudashim_stat(const char* name);

// The detail of the last error returned to the calling thread (which call, which pointer,
// which limit), or of the sticky error; "" if none. Valid until the thread's next call.
const char* gatun_cudashim_last_error(void);

#ifdef __cplusplus
}
#endif
