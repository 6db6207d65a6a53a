// reduce.cu — entry points of the row-reduction family (bodies in reduce.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. x_stride in elements; out is contiguous fp32 (rows elements).
#include "cuemu/prelude.h"
#include "reduce.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_ROW_SUM(NAME, T)                                                                     \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                              \
        NAME(const T* x, float* out, long long rows, long long cols, long long x_stride) {         \
        gatun::row_sum_rows(x, out, rows, cols, x_stride);                                         \
    }                                                                                              \
    CUEMU_EXPORT(NAME)

GATUN_ROW_SUM(gatun_row_sum_f32, float);
GATUN_ROW_SUM(gatun_row_sum_f16, __half);
GATUN_ROW_SUM(gatun_row_sum_bf16, __nv_bfloat16);
