// diffusion.cu — extern "C" entry points of diffusion.cuh (the definition and launch contract are there).
#include "diffusion.cuh"

#define GATUN_DIFFUSION_STEP(NAME, T)                                                                       \
    extern "C" __global__ void NAME(const T* x, const T* model, const T* prev, T* out, T* x0_out,           \
                                    const float* params, const float* factor, const long long* seeds,       \
                                    const long long* steps, long long n, long long len, int cfg) {          \
        gatun::diffusion_step<T>(x, model, prev, out, x0_out, params, factor, seeds, steps, n, len, cfg);  \
    }                                                                                                      \
    CUEMU_EXPORT(NAME)

#define GATUN_CFG_RESCALE(NAME, T)                                                                          \
    extern "C" __global__ void NAME(const T* model, const float* params, float* factor, long long n,       \
                                    long long len) {                                                       \
        gatun::cfg_rescale<T>(model, params, factor, n, len);                                              \
    }                                                                                                      \
    CUEMU_EXPORT(NAME)

GATUN_DIFFUSION_STEP(gatun_diffusion_step_f32, float);
GATUN_DIFFUSION_STEP(gatun_diffusion_step_f16, __half);
GATUN_DIFFUSION_STEP(gatun_diffusion_step_bf16, __nv_bfloat16);
GATUN_CFG_RESCALE(gatun_cfg_rescale_f32, float);
GATUN_CFG_RESCALE(gatun_cfg_rescale_f16, __half);
GATUN_CFG_RESCALE(gatun_cfg_rescale_bf16, __nv_bfloat16);
