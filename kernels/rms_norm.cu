// rms_norm.cu — entry points of the RMSNorm family (bodies in rms_norm.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. Strides in elements; weight is contiguous (cols elements).
#include "cuemu/prelude.h"
#include "rms_norm.cuh"

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_rms_norm_f32(const float* x, const float* weight, float* y, long long rows, long long cols,
                   long long x_stride, long long y_stride, float eps) {
    gatun::rms_norm_rows(x, weight, y, rows, cols, x_stride, y_stride, eps);
}
CUEMU_EXPORT(gatun_rms_norm_f32);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_rms_norm_f16(const __half* x, const __half* weight, __half* y, long long rows,
                   long long cols, long long x_stride, long long y_stride, float eps) {
    gatun::rms_norm_rows(x, weight, y, rows, cols, x_stride, y_stride, eps);
}
CUEMU_EXPORT(gatun_rms_norm_f16);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_rms_norm_bf16(const __nv_bfloat16* x, const __nv_bfloat16* weight, __nv_bfloat16* y,
                    long long rows, long long cols, long long x_stride, long long y_stride,
                    float eps) {
    gatun::rms_norm_rows(x, weight, y, rows, cols, x_stride, y_stride, eps);
}
CUEMU_EXPORT(gatun_rms_norm_bf16);
