// bad_kernels.cu — kernels with deliberate runtime bugs (and one correct twin) that the
// test suite launches to prove cuemu's checks fire. Each is legal CUDA and compiles
// with nvcc; the bug only shows when it runs. Launch: 32..256 threads (a multiple of
// 32), 1..2 blocks, no dynamic shared memory. Test-only: never shipped in kernels/.
//
// What each one must trigger (and what the correct one must produce):
//   test_divergent_syncthreads  __syncthreads reached at two different call sites
//   test_barrier_after_exit     __syncthreads with part of the block already returned
//   test_shfl_mask_mismatch     one __shfl_xor_sync call site, lanes disagree on the mask
//   test_missing_barrier        shared-memory data race (write s[t], read s[t+1], no barrier)
//   test_with_barrier           correct: out[base+t] = in[base+(t+1)%B] (0 where that is >= n)
//   test_oob_shared             s[index] on a __shared__ float[64] (index >= 64 is OOB)
//   test_oob_global             out[i] = in[i+1], i < n: reads in[n], one past the end
//   test_trap                   thread 5 of each block calls __trap()
#include "cuemu/prelude.h"

extern "C" __global__ void test_divergent_syncthreads(float* out) {
    const int t = threadIdx.x;
    const long long i = blockIdx.x * (long long)blockDim.x + t;
    // The two branches do different work on both sides of their barrier so that no
    // compiler can merge the two __syncthreads calls into one call site.
    if (t < 16) {
        out[i] = 1.0f;
        __syncthreads();  // call site A
        out[i] += 10.0f;
    } else {
        out[i] = 2.0f;
        __syncthreads();  // call site B
        out[i] *= 3.0f;
    }
}
CUEMU_EXPORT(test_divergent_syncthreads);

extern "C" __global__ void test_barrier_after_exit(float* out) {
    const int t = threadIdx.x;
    const long long i = blockIdx.x * (long long)blockDim.x + t;
    if (t >= 16) return;  // these threads never reach the barrier below
    out[i] = 1.0f;
    __syncthreads();
    out[i] += 1.0f;
}
CUEMU_EXPORT(test_barrier_after_exit);

extern "C" __global__ void test_shfl_mask_mismatch(float* out) {
    const int t = threadIdx.x;
    const long long i = blockIdx.x * (long long)blockDim.x + t;
    const int lane = t % kWarp;
    // Lanes 0..15 name only themselves, lanes 16..31 name the whole warp: the full-mask
    // callers wait for lanes 0..15, which are in a different collective.
    const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffffffffu;
    const float v = static_cast<float>(t);
    out[i] = __shfl_xor_sync(mask, v, 1);
}
CUEMU_EXPORT(test_shfl_mask_mismatch);

extern "C" __global__ void test_missing_barrier(const float* in, float* out, long long n) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    const long long base = blockIdx.x * (long long)blockDim.x;
    s[t] = base + t < n ? in[base + t] : 0.0f;
    // BUG: no __syncthreads() here; thread t reads the slot thread t+1 writes.
    const float v = s[(t + 1) % blockDim.x];
    if (base + t < n) out[base + t] = v;
}
CUEMU_EXPORT(test_missing_barrier);

extern "C" __global__ void test_with_barrier(const float* in, float* out, long long n) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    const long long base = blockIdx.x * (long long)blockDim.x;
    s[t] = base + t < n ? in[base + t] : 0.0f;
    __syncthreads();
    const float v = s[(t + 1) % blockDim.x];
    if (base + t < n) out[base + t] = v;
}
CUEMU_EXPORT(test_with_barrier);

extern "C" __global__ void test_oob_shared(float* out, int index) {
    __shared__ float s[64];
    const int t = threadIdx.x;
    for (int k = t; k < 64; k += blockDim.x) s[k] = static_cast<float>(k);
    __syncthreads();
    out[blockIdx.x * (long long)blockDim.x + t] = s[index];  // BUG when index >= 64
}
CUEMU_EXPORT(test_oob_shared);

extern "C" __global__ void test_oob_global(const float* in, float* out, long long n) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i + 1];  // BUG: i == n-1 reads in[n]
}
CUEMU_EXPORT(test_oob_global);

extern "C" __global__ void test_trap(float* out) {
    const int t = threadIdx.x;
    if (t == 5) __trap();
    out[blockIdx.x * (long long)blockDim.x + t] = 1.0f;
}
CUEMU_EXPORT(test_trap);
