// elementwise.cu — extern "C" entry points of elementwise.cuh.
#include "elementwise.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_ADD(NAME, T)                                                                       \
    extern "C" __global__ void NAME(const T* a, const T* b, T* y, long long n) { gatun::add<T>(a, b, y, n); } \
    CUEMU_EXPORT(NAME)
#define GATUN_SILU_MUL(NAME, T)                                                                  \
    extern "C" __global__ void NAME(const T* x, T* y, long long rows, long long cols) {          \
        gatun::silu_mul<T>(x, y, rows, cols);                                                    \
    }                                                                                            \
    CUEMU_EXPORT(NAME)
#define GATUN_GELU_TANH(NAME, T)                                                                 \
    extern "C" __global__ void NAME(const T* x, T* y, long long n) { gatun::gelu_tanh<T>(x, y, n); } \
    CUEMU_EXPORT(NAME)
#define GATUN_EMBEDDING(NAME, T)                                                                 \
    extern "C" __global__ void NAME(const int* ids, const T* table, T* y, long long tokens, long long hidden) { \
        gatun::embedding<T>(ids, table, y, tokens, hidden);                                      \
    }                                                                                            \
    CUEMU_EXPORT(NAME)

GATUN_ADD(gatun_add_f32, float);
GATUN_ADD(gatun_add_f16, __half);
GATUN_ADD(gatun_add_bf16, __nv_bfloat16);
GATUN_SILU_MUL(gatun_silu_mul_f32, float);
GATUN_SILU_MUL(gatun_silu_mul_f16, __half);
GATUN_SILU_MUL(gatun_silu_mul_bf16, __nv_bfloat16);
GATUN_GELU_TANH(gatun_gelu_tanh_f32, float);
GATUN_GELU_TANH(gatun_gelu_tanh_f16, __half);
GATUN_GELU_TANH(gatun_gelu_tanh_bf16, __nv_bfloat16);
GATUN_EMBEDDING(gatun_embedding_f32, float);
GATUN_EMBEDDING(gatun_embedding_f16, __half);
GATUN_EMBEDDING(gatun_embedding_bf16, __nv_bfloat16);
