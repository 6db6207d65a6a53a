// softmax.cu — entry points of the softmax family (bodies in softmax.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. Strides in elements; x == y allowed.
#include "cuemu/prelude.h"
#include "softmax.cuh"

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_softmax_f32(const float* x, float* y, long long rows, long long cols, long long x_stride,
                  long long y_stride) {
    gatun::softmax_rows(x, y, rows, cols, x_stride, y_stride);
}
CUEMU_EXPORT(gatun_softmax_f32);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_softmax_f16(const __half* x, __half* y, long long rows, long long cols, long long x_stride,
                  long long y_stride) {
    gatun::softmax_rows(x, y, rows, cols, x_stride, y_stride);
}
CUEMU_EXPORT(gatun_softmax_f16);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_softmax_bf16(const __nv_bfloat16* x, __nv_bfloat16* y, long long rows, long long cols,
                   long long x_stride, long long y_stride) {
    gatun::softmax_rows(x, y, rows, cols, x_stride, y_stride);
}
CUEMU_EXPORT(gatun_softmax_bf16);
