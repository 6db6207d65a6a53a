// bad_kernels.cu — kernels with deliberate runtime bugs (and correct twins) that the
// test suite launches to prove cuemu's checks fire and its warp semantics are CUDA's. Each
// is legal CUDA and compiles with nvcc; the bug only shows when it runs. Launch: 32..256
// threads (a multiple of 32), 1..2 blocks, no dynamic shared memory. Test-only: never
// shipped in kernels/.
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
//   test_shfl_outside_mask      lanes 0..15 (mask 0xffff) read lane 20 with __shfl_sync
//   test_shfl_mask_without_self lane 0 calls __shfl_sync with a mask that leaves it out
//   test_shuffles               correct: out[4l..4l+3] = the four shuffles of v = 10*lane + 1
//                               with (width, arg), for comparison with CUDA's lane rules
//   test_votes                  correct: out[11l..11l+10] = ballot, any, all and the eight
//                               __reduce_*_sync of lane l over `mask` (-1 for lanes outside it)
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

extern "C" __global__ void test_shfl_outside_mask(float* out) {
    const int t = threadIdx.x;
    float v = static_cast<float>(t);
    if (t % kWarp < 16) v = __shfl_sync(0x0000ffffu, v, 20);
    out[blockIdx.x * (long long)blockDim.x + t] = v;
}
CUEMU_EXPORT(test_shfl_outside_mask);

extern "C" __global__ void test_shfl_mask_without_self(float* out) {
    const int t = threadIdx.x;
    float v = static_cast<float>(t);
    if (t % kWarp == 0) v = __shfl_sync(0x2u, v, 1);
    out[blockIdx.x * (long long)blockDim.x + t] = v;
}
CUEMU_EXPORT(test_shfl_mask_without_self);

extern "C" __global__ void test_shuffles(int* out, int width, int arg) {
    const int t = threadIdx.x;
    const int v = 10 * (t % kWarp) + 1;
    int* o = out + 4 * (blockIdx.x * (long long)blockDim.x + t);
    o[0] = __shfl_sync(0xffffffffu, v, arg, width);
    o[1] = __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(arg), width);
    o[2] = __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(arg), width);
    o[3] = __shfl_xor_sync(0xffffffffu, v, arg, width);
}
CUEMU_EXPORT(test_shuffles);

extern "C" __global__ void test_votes(int* out, unsigned mask) {
    const int lane = threadIdx.x % kWarp;
    int* o = out + 11 * (blockIdx.x * (long long)blockDim.x + threadIdx.x);
    if (!(mask >> lane & 1u)) {
        for (int k = 0; k < 11; ++k) o[k] = -1;
        return;
    }
    const int x = (lane * 37 + 11) % 50 - 20;  // signed values of both signs
    o[0] = static_cast<int>(__ballot_sync(mask, lane % 3 == 0));
    o[1] = __any_sync(mask, lane == 5);
    o[2] = __all_sync(mask, lane < 24);
    o[3] = static_cast<int>(__reduce_add_sync(mask, static_cast<unsigned>(x)));
    o[4] = static_cast<int>(__reduce_min_sync(mask, static_cast<unsigned>(x)));
    o[5] = __reduce_min_sync(mask, x);
    o[6] = __reduce_max_sync(mask, x);
    o[7] = static_cast<int>(__reduce_max_sync(mask, static_cast<unsigned>(x)));
    o[8] = static_cast<int>(__reduce_and_sync(mask, static_cast<unsigned>(x + 100)));
    o[9] = static_cast<int>(__reduce_or_sync(mask, static_cast<unsigned>(x + 100)));
    o[10] = static_cast<int>(__reduce_xor_sync(mask, static_cast<unsigned>(x + 100)));
}
CUEMU_EXPORT(test_votes);
