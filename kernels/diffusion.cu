// diffusion.cu — extern "C" entry points of diffusion.cuh (the definition and launch contract are there).
#include "diffusion.cuh"

#define GATUN_DIFFUSION(SUFFIX, T)                                                                          \
    extern "C" __global__ void gatun_diffusion_step_##SUFFIX(                                               \
        const T* x, const T* model, const T* prev, T* out, T* x0_out, const float* params, const float* factor, \
        const long long* seeds, const long long* steps, long long n, long long len, int cfg) {              \
        gatun::diffusion_step<T>(x, model, prev, out, x0_out, params, factor, seeds, steps, n, len, cfg);  \
    }                                                                                                      \
    CUEMU_EXPORT(gatun_diffusion_step_##SUFFIX);                                                           \
    extern "C" __global__ void gatun_cfg_rescale_##SUFFIX(const T* model, const float* params, float* factor, \
                                                          long long n, long long len) {                    \
        gatun::cfg_rescale<T>(model, params, factor, n, len);                                              \
    }                                                                                                      \
    CUEMU_EXPORT(gatun_cfg_rescale_##SUFFIX);

GATUN_DIFFUSION(f32, float)
GATUN_DIFFUSION(f16, __half)
GATUN_DIFFUSION(bf16, __nv_bfloat16)
