// rms_norm.cu — entry points of the RMSNorm family (bodies in rms_norm.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. Strides in elements; weight is contiguous (cols elements).
#include "cuemu/prelude.h"
#include "rms_norm.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_RMS_NORM(NAME, T)                                                                    \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                              \
        NAME(const T* x, const T* weight, T* y, long long rows, long long cols, long long x_stride, \
             long long y_stride, float eps) {                                                      \
        gatun::rms_norm_rows(x, weight, y, rows, cols, x_stride, y_stride, eps);                   \
    }                                                                                              \
    CUEMU_EXPORT(NAME)

GATUN_RMS_NORM(gatun_rms_norm_f32, float);
GATUN_RMS_NORM(gatun_rms_norm_f16, __half);
GATUN_RMS_NORM(gatun_rms_norm_bf16, __nv_bfloat16);
