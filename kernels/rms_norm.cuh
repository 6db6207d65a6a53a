// rms_norm.cuh — RMSNorm: y[r,c] = x[r,c] * rsqrt(mean_c(x[r,:]^2) + eps) * weight[c].
//
// Shape: one block per row, rows grid-strided (row = blockIdx.x, += gridDim.x); thread t
// owns columns t, t+B, ... (coalesced loads, any row length). fp32 math throughout: the
// sum of squares is accumulated in fp32, and x * scale * weight is rounded to T once.
//  * cols <= kRmsCache*B: the row is held in registers between the reduction and the
//    write (one read of x, one of weight, one write of y).
//  * longer rows: the reduction pass and the write pass each read x (the second read
//    usually hits L2).
// Determinism: fixed per-thread column order and a B-fixed block reduction
// (common.cuh), so a row's result depends only on its values, cols and B. In-place
// (x == y) is safe: each element is written by the thread that read it, after the read.
#pragma once

#include "common.cuh"

namespace gatun {

constexpr int kRmsCache = 8;

template <typename T>
__device__ __forceinline__ void rms_norm_rows(const T* x, const T* weight, T* y, long long rows,
                                              long long cols, long long x_stride,
                                              long long y_stride, float eps) {
    __shared__ float scratch[kWarp];
    const long long b = blockDim.x;
    const long long tid = threadIdx.x;
    const float inv_cols = 1.0f / static_cast<float>(cols);

    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * x_stride;
        T* yr = y + row * y_stride;

        if (cols <= kRmsCache * b) {
            float v[kRmsCache];
            float ss = 0.0f;
#pragma unroll
            for (int i = 0; i < kRmsCache; ++i) {
                const long long c = tid + i * b;
                v[i] = c < cols ? load_f(xr + c) : 0.0f;
                ss += v[i] * v[i];
            }
            const float scale = rsqrtf(block_sum(ss, scratch) * inv_cols + eps);
#pragma unroll
            for (int i = 0; i < kRmsCache; ++i) {
                const long long c = tid + i * b;
                if (c < cols) store_f(yr + c, v[i] * scale * load_f(weight + c));
            }
        } else {
            float ss = 0.0f;
            for_each_col(xr, cols, [&](long long, float v) { ss += v * v; });
            const float scale = rsqrtf(block_sum(ss, scratch) * inv_cols + eps);
            for_each_col(xr, cols, [&](long long c, float v) {
                store_f(yr + c, v * scale * load_f(weight + c));
            });
        }
    }
}

}  // namespace gatun
