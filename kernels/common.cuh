// common.cuh — helpers shared by every kernel family in kernels/.
//
// * Type converters: every kernel stores its tensors as T in {float, __half,
//   __nv_bfloat16} and does all arithmetic in fp32; load_f / store_f are the one
//   place where T <-> float conversions happen (round-to-nearest-even on store).
// * Deterministic block reductions (sum, max) over one float per thread:
//   an xor-butterfly inside each warp, one float per warp through a
//   __shared__ float[kWarp] scratch, then the same butterfly over the per-warp
//   values, done redundantly by every warp so that every thread gets the result
//   without a broadcast barrier. The order of operations depends only on
//   blockDim.x, never on timing, and the xor butterfly gives bitwise-identical
//   results in all lanes (IEEE add and max are commutative).
//
// Contract of block_reduce_*: blockDim.x is a multiple of kWarp and <= kWarp*kWarp;
// every thread of the block calls it (it contains two __syncthreads and full-mask
// shuffles); `scratch` is a __shared__ float[kWarp] not used by anyone else during
// the call. It ends with a barrier, so the same scratch may be reused right away.
#pragma once

#include "cuemu/prelude.h"

// __launch_bounds__ is a macro in nvcc's host_defines.h; give the emulator build a
// no-op unless its prelude already defines one.
#if !defined(__CUDACC__) && !defined(__launch_bounds__)
#define __launch_bounds__(...)
#endif

namespace gatun {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxBlock = 1024;  // the launch contract: B in [kWarp, kMaxBlock], B % kWarp == 0

__device__ __forceinline__ float neg_inf() { return -__builtin_huge_valf(); }

// ---- T <-> float ----------------------------------------------------------------
__device__ __forceinline__ float load_f(const float* p) { return *p; }
__device__ __forceinline__ float load_f(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float load_f(const __nv_bfloat16* p) { return __bfloat162float(*p); }

__device__ __forceinline__ void store_f(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_f(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_f(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// ---- warp reductions (all 32 lanes must call; every lane gets the result) --------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int k = kWarp / 2; k > 0; k >>= 1) v += __shfl_xor_sync(kFullMask, v, k);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int k = kWarp / 2; k > 0; k >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, k));
    return v;
}

// ---- block reductions (all threads must call; every thread gets the result) ------
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x % kWarp;
    const int warp = threadIdx.x / kWarp;
    const int nwarps = blockDim.x / kWarp;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : 0.0f;
    v = warp_sum(v);
    __syncthreads();  // scratch may be overwritten by the next reduction
    return v;
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x % kWarp;
    const int warp = threadIdx.x / kWarp;
    const int nwarps = blockDim.x / kWarp;
    v = warp_max(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : neg_inf();
    v = warp_max(v);
    __syncthreads();
    return v;
}

}  // namespace gatun

namespace gatun {

// Visits x[c] for c = threadIdx.x, threadIdx.x + B, threadIdx.x + 2B, ... (< cols), in
// that order, calling f(c, value_as_float). Consecutive threads read consecutive
// columns (coalesced). The main loop issues four independent loads before using any
// of them so that each thread keeps several requests in flight; the visiting order,
// and so any accumulation done in f, is the same as the plain loop's.
template <typename T, typename F>
__device__ __forceinline__ void for_each_col(const T* xr, long long cols, F&& f) {
    const long long b = blockDim.x;
    long long c = threadIdx.x;
    for (; c + 3 * b < cols; c += 4 * b) {
        const float v0 = load_f(xr + c);
        const float v1 = load_f(xr + c + b);
        const float v2 = load_f(xr + c + 2 * b);
        const float v3 = load_f(xr + c + 3 * b);
        f(c, v0);
        f(c + b, v1);
        f(c + 2 * b, v2);
        f(c + 3 * b, v3);
    }
    for (; c < cols; c += b) f(c, load_f(xr + c));
}

}  // namespace gatun
