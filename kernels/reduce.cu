// reduce.cu — entry points of the row-reduction family (bodies in reduce.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. x_stride in elements; out is contiguous fp32 (rows elements).
#include "cuemu/prelude.h"
#include "reduce.cuh"

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_row_sum_f32(const float* x, float* out, long long rows, long long cols, long long x_stride) {
    gatun::row_sum_rows(x, out, rows, cols, x_stride);
}
CUEMU_EXPORT(gatun_row_sum_f32);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_row_sum_f16(const __half* x, float* out, long long rows, long long cols,
                  long long x_stride) {
    gatun::row_sum_rows(x, out, rows, cols, x_stride);
}
CUEMU_EXPORT(gatun_row_sum_f16);

extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)
gatun_row_sum_bf16(const __nv_bfloat16* x, float* out, long long rows, long long cols,
                   long long x_stride) {
    gatun::row_sum_rows(x, out, rows, cols, x_stride);
}
CUEMU_EXPORT(gatun_row_sum_bf16);
