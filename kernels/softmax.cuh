// softmax.cuh — row softmax: y[r,:] = exp(x[r,:] - max) / sum(exp(x[r,:] - max)).
//
// Shape: one block per row, rows grid-strided (row = blockIdx.x, += gridDim.x), so any
// grid size works; threads stride over the columns (thread t owns columns t, t+B, ...),
// which keeps every load coalesced and lets a row be any length. All math is fp32.
//
// Two code paths, chosen by (cols, B) only:
//  * cols <= kSoftmaxCache*B: the row is read once into registers (kSoftmaxCache per
//    thread); each thread takes its max, exponentiates once, the block reduces max and
//    then the rescaled sums, and the cached exponentials are scaled and written. One
//    read + one write of the row.
//  * longer rows: one read pass keeps an online (max, sum) pair per thread (rescaling
//    the sum when the max grows, as in FlashAttention's online softmax), the block
//    combines the pairs, and a second read pass writes exp(x - max) / sum. Two reads +
//    one write instead of three reads + one write.
// Determinism: per-thread order is fixed (column order), the block reduction order is
// fixed by B (common.cuh), so a row's result depends only on its values, cols and B.
// In-place (x == y) is safe: every element is written by the thread that read it, after
// it has read it, and rows never overlap.
// Special values: a row whose elements are all -inf gives all zeros (not NaN, like a
// fully masked attention row); NaN in a row gives NaN for the row; +inf gives NaN.
#pragma once

#include "common.cuh"

namespace gatun {

constexpr int kSoftmaxCache = 8;

template <typename T>
__device__ __forceinline__ void softmax_rows(const T* x, T* y, long long rows, long long cols,
                                             long long x_stride, long long y_stride) {
    __shared__ float scratch[kWarp];
    const long long b = blockDim.x;
    const long long tid = threadIdx.x;
    // A finite start value: an element equal to -inf then contributes exp(-inf) = 0
    // instead of exp(-inf - -inf) = NaN.
    const float lowest = -3.402823466e38f;

    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * x_stride;
        T* yr = y + row * y_stride;

        if (cols <= kSoftmaxCache * b) {
            float v[kSoftmaxCache];
            float m = lowest;
#pragma unroll
            for (int i = 0; i < kSoftmaxCache; ++i) {
                const long long c = tid + i * b;
                v[i] = c < cols ? load_f(xr + c) : neg_inf();
                m = fmaxf(m, v[i]);
            }
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < kSoftmaxCache; ++i) {
                v[i] = __expf(v[i] - m);
                s += v[i];
            }
            const float mx = block_max(m, scratch);
            const float total = block_sum(s * __expf(m - mx), scratch);
            const float scale = (total == 0.0f ? 0.0f : 1.0f / total) * __expf(m - mx);
#pragma unroll
            for (int i = 0; i < kSoftmaxCache; ++i) {
                const long long c = tid + i * b;
                if (c < cols) store_f(yr + c, v[i] * scale);
            }
        } else {
            float m = lowest;
            float s = 0.0f;
            for_each_col(xr, cols, [&](long long, float v) {
                if (v > m) {
                    s = s * __expf(m - v) + 1.0f;
                    m = v;
                } else {
                    s += __expf(v - m);
                }
            });
            const float mx = block_max(m, scratch);
            const float total = block_sum(s * __expf(m - mx), scratch);
            const float inv = total == 0.0f ? 0.0f : 1.0f / total;  // 0 only for an all -inf row; NaN stays NaN
            for_each_col(xr, cols, [&](long long c, float v) {
                store_f(yr + c, __expf(v - mx) * inv);
            });
        }
    }
}

}  // namespace gatun
