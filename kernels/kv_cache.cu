// kv_cache.cu — entry points of the paged KV-cache family (bodies and launch contract
// in kv_cache.cuh). Launch: block (B,1,1), B % 32 == 0, 32 <= B <= 1024 (128
// recommended); any gridDim.x >= 1 (tokens grid-strided); no dynamic shared memory.
#include "cuemu/prelude.h"
#include "kv_cache.cuh"

#define GATUN_KV_APPEND(NAME, T)                                                                   \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1) NAME(                        \
        T* q, const T* k, const T* v, T* k_cache, T* v_cache, const long long* slot_mapping,       \
        const int* positions, int num_tokens, int num_q_heads, int num_kv_heads, int head_dim,     \
        int block_size, int rotary_dim, float theta, float scale_factor, float scale_low,          \
        float scale_high, float scale_original, int style) {                                       \
        gatun::kv_append_rope(q, k, v, k_cache, v_cache, slot_mapping, positions, num_tokens,      \
                              num_q_heads, num_kv_heads, head_dim, block_size, rotary_dim, theta,  \
                              {scale_factor, scale_low, scale_high, scale_original}, style);       \
    }                                                                                              \
    CUEMU_EXPORT(NAME)

GATUN_KV_APPEND(gatun_kv_append_rope_f32, float);
GATUN_KV_APPEND(gatun_kv_append_rope_f16, __half);
GATUN_KV_APPEND(gatun_kv_append_rope_bf16, __nv_bfloat16);
