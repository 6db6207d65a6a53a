// gemm.cu — entry points of the projection GEMM (bodies and launch contract in gemm.cuh).
// Y[m,n] = X[m,k] · W[n,k]ᵀ (+ bias[n]); leading dimensions in elements; bias may be null.
//   gatun_gemm_{f16,bf16}:        grid (ceil(n/128), ceil(m/128)), block 256, smem 20480 B
//   gatun_gemm_{f16,bf16}_small:  grid (ceil(n/64),  ceil(m/64)),  block 128, smem 10240 B
//   gatun_gemm_f32:               grid (ceil(n/128), ceil(m/128)), block 256, smem 16896 B
//   gatun_gemm_f32_small:         grid (ceil(n/64),  ceil(m/64)),  block 256, smem  8704 B
#include "cuemu/prelude.h"
#include "gemm.cuh"

#define GATUN_GEMM_TC(NAME, T, BM, BN, WM, WN)                                                   \
    extern "C" __global__ void __launch_bounds__(WM * WN * kWarp)                               \
    NAME(const T* x, const T* w, const T* bias, T* y, int m, int n, int k, int ldx, int ldw,     \
         int ldy) {                                                                              \
        gatun::gemm_tc<T, BM, BN, WM, WN>(x, w, bias, y, m, n, k, ldx, ldw, ldy);                \
    }                                                                                            \
    CUEMU_EXPORT(NAME)

GATUN_GEMM_TC(gatun_gemm_f16, __half, 128, 128, 2, 4);
GATUN_GEMM_TC(gatun_gemm_bf16, __nv_bfloat16, 128, 128, 2, 4);
GATUN_GEMM_TC(gatun_gemm_f16_small, __half, 64, 64, 2, 2);
GATUN_GEMM_TC(gatun_gemm_bf16_small, __nv_bfloat16, 64, 64, 2, 2);
#undef GATUN_GEMM_TC

extern "C" __global__ void __launch_bounds__(256)
gatun_gemm_f32(const float* x, const float* w, const float* bias, float* y, int m, int n, int k,
               int ldx, int ldw, int ldy) {
    gatun::gemm_f32<128, 128>(x, w, bias, y, m, n, k, ldx, ldw, ldy);
}
CUEMU_EXPORT(gatun_gemm_f32);

extern "C" __global__ void __launch_bounds__(256)
gatun_gemm_f32_small(const float* x, const float* w, const float* bias, float* y, int m, int n,
                     int k, int ldx, int ldw, int ldy) {
    gatun::gemm_f32<64, 64>(x, w, bias, y, m, n, k, ldx, ldw, ldy);
}
CUEMU_EXPORT(gatun_gemm_f32_small);
