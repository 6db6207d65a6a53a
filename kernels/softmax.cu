// softmax.cu — entry points of the softmax family (bodies in softmax.cuh).
// Launch: blockDim (B,1,1), B % 32 == 0, 32 <= B <= 1024; any gridDim.x >= 1; no
// dynamic shared memory. Strides in elements; x == y allowed.
#include "cuemu/prelude.h"
#include "softmax.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_SOFTMAX(NAME, T)                                                                     \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                              \
        NAME(const T* x, T* y, long long rows, long long cols, long long x_stride, long long y_stride) { \
        gatun::softmax_rows(x, y, rows, cols, x_stride, y_stride);                                 \
    }                                                                                              \
    CUEMU_EXPORT(NAME)

GATUN_SOFTMAX(gatun_softmax_f32, float);
GATUN_SOFTMAX(gatun_softmax_f16, __half);
GATUN_SOFTMAX(gatun_softmax_bf16, __nv_bfloat16);
