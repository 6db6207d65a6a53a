// rope.cu — entry points of the RoPE family (bodies and launch contract in rope.cuh).
// Launch: block (B,1,1), B % 32 == 0, 32 <= B <= 1024 (128 recommended); any
// gridDim.x >= 1 (tokens grid-strided); no dynamic shared memory.
#include "cuemu/prelude.h"
#include "rope.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_ROPE(NAME, T)                                                                        \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                              \
        NAME(T* x, const int* positions, int num_tokens, int num_heads, int head_dim, int rotary_dim, \
             float theta, float scale_factor, float scale_low, float scale_high, float scale_original, \
             int style) {                                                                          \
        gatun::rope_tokens(x, positions, num_tokens, num_heads, head_dim, rotary_dim, theta,       \
                           {scale_factor, scale_low, scale_high, scale_original}, style);          \
    }                                                                                              \
    CUEMU_EXPORT(NAME)

GATUN_ROPE(gatun_rope_f32, float);
GATUN_ROPE(gatun_rope_f16, __half);
GATUN_ROPE(gatun_rope_bf16, __nv_bfloat16);
