// elementwise.cu — extern "C" entry points of elementwise.cuh.
#include "elementwise.cuh"

#define GATUN_ELEMENTWISE(SUFFIX, T)                                                                     \
    extern "C" __global__ void gatun_add_##SUFFIX(const T* a, const T* b, T* y, long long n) {          \
        gatun::add<T>(a, b, y, n);                                                                     \
    }                                                                                                  \
    CUEMU_EXPORT(gatun_add_##SUFFIX);                                                                  \
    extern "C" __global__ void gatun_silu_mul_##SUFFIX(const T* x, T* y, long long rows, long long cols) { \
        gatun::silu_mul<T>(x, y, rows, cols);                                                          \
    }                                                                                                  \
    CUEMU_EXPORT(gatun_silu_mul_##SUFFIX);                                                             \
    extern "C" __global__ void gatun_gelu_tanh_##SUFFIX(const T* x, T* y, long long n) {               \
        gatun::gelu_tanh<T>(x, y, n);                                                                  \
    }                                                                                                  \
    CUEMU_EXPORT(gatun_gelu_tanh_##SUFFIX);                                                            \
    extern "C" __global__ void gatun_embedding_##SUFFIX(const int* ids, const T* table, T* y,          \
                                                        long long tokens, long long hidden) {          \
        gatun::embedding<T>(ids, table, y, tokens, hidden);                                            \
    }                                                                                                  \
    CUEMU_EXPORT(gatun_embedding_##SUFFIX);

GATUN_ELEMENTWISE(f32, float)
GATUN_ELEMENTWISE(f16, __half)
GATUN_ELEMENTWISE(bf16, __nv_bfloat16)
