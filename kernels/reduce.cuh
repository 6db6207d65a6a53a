// reduce.cuh — row reductions: out[r] = sum_c x[r,c], accumulated in fp32, out is fp32.
//
// Shape: one block per row, rows grid-strided (row = blockIdx.x, += gridDim.x); thread t
// sums columns t, t+B, ... in order (coalesced loads, four loads in flight per thread,
// any row length), then a B-fixed block reduction (common.cuh) combines the partials and
// thread 0 writes the result. The summation order depends only on cols and B, so a row's
// sum is bitwise reproducible for a given block size whatever the grid or the batch.
#pragma once

#include "common.cuh"

namespace gatun {

template <typename T>
__device__ __forceinline__ void row_sum_rows(const T* x, float* out, long long rows,
                                             long long cols, long long x_stride) {
    __shared__ float scratch[kWarp];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * x_stride;
        float s = 0.0f;
        for_each_col(xr, cols, [&](long long, float v) { s += v; });
        s = block_sum(s, scratch);
        if (threadIdx.x == 0) out[row] = s;
    }
}

}  // namespace gatun
