// diffusion.cuh — the fused per-step update of every diffusion sampler Gatun has (DDPM, DDIM,
// Euler, Euler-ancestral, DPM-Solver++ 2M, flow-matching Euler), with classifier-free guidance
// (CFG) and guidance rescale fused in. Memory-bound and elementwise.
//
// ---------------------------------------------------------------- the definition
// A batch of n samples, each `len` contiguous elements (any latent shape, flattened).
// params [n, 8] fp32 per sample: {a, b, c, d, p, q, g, phi}; seeds / steps [n] int64.
// model: cfg == 0 -> [n, len]; cfg != 0 -> [2n, len], rows 0..n-1 the CONDITIONAL predictions,
// rows n..2n-1 the UNCONDITIONAL ones (sample s pairs with s + n; the diffusers order is the
// opposite, [uncond | cond]: the Java API documents which one it takes).
// Element j of sample s (all fp32, one rounding to T per output):
//   m  = cfg ? u + g * (k - u) : model[s, j]     (k = cond, u = uncond: CFG, Ho & Salimans 2022)
//   m *= factor[s]                               (guidance rescale, only when factor != NULL)
//   x' = a * x + b * m + c * prev + d * z        (prev term only when prev != NULL,
//                                                 noise term only when d != 0)
//   out[s, j] = x';  x0_out[s, j] = p * x + q * m  (only when x0_out != NULL)
// The Java sampler reduces each method's published update to (a, b, c, d, p, q); see
// runtime/dev/gatun/diffusion/SamplerKind.java for the derivations.
// out may alias x; x0_out may alias prev (each element is read before it is written, by the
// same thread). No other aliasing.
//
// Noise z (diffusion_normal): Philox4x32-10 (philox.cuh) with key = seed[s] and counter
// (j lo, j hi, step lo, (step hi) ^ 0x44494646), words w0, w1 -> u1 = 1 - uniform01(w0) in
// (0, 1], u2 = uniform01(w1) in [0, 1); z = sqrtf(-2 logf(u1)) * cosf(6.2831855f * u2)
// (Box-Muller, one normal per counter, |z| <= 5.77). The integers are identical on every device;
// z agrees across devices to a few ulps (logf/cosf are the platform's). It depends only on
// (seed, step, j): never on the batch a sample is in.
//
// Guidance rescale (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
// Flawed", eq. 15-16; diffusers rescale_noise_cfg), per sample s:
//   factor[s] = 1 - phi + phi * std(cond_s) / std(guided_s)   (std over the sample's len
//   elements, both mean-subtracted; the ratio is the same for the biased and unbiased std)
// computed by gatun_cfg_rescale in two passes (mean, then centered sum of squares), one block
// per sample, fp32 block reductions (common.cuh; order fixed by blockDim). A guided sample with
// zero variance gives factor 1 (no rescale) instead of a division by zero.
//
// ---------------------------------------------------------------- launch contract
// gatun_diffusion_step_*: any grid (grid-stride over n*len), block (B,1,1) any B; no shared memory.
// gatun_cfg_rescale_*: grid (G,1,1) any G (samples are grid-strided), block (B,1,1) with B a
// multiple of 32 up to 1024 (Gatun uses 256); ~128 B static shared memory.
#pragma once

#if !defined(GATUN_DIFFUSION_HOST_ONLY)
#include "common.cuh"
#endif
#include "philox.cuh"

#include <math.h>
#include <stdint.h>

namespace gatun {

constexpr uint32_t kDiffusionNoiseTag = 0x44494646u;  // "DIFF": keeps these streams apart from sampling's
constexpr int kDiffusionParams = 8;                     // a, b, c, d, p, q, g, phi

// The standard normal of element j of a sample's noise at (seed, step). Host and device.
GATUN_PHILOX_FN float diffusion_normal(long long seed, long long step, long long j) {
    const uint64_t t = (uint64_t)step, e = (uint64_t)j;
    const Philox4 r = philox_seed_step(seed, (long long)e, (uint32_t)t, (uint32_t)(t >> 32) ^ kDiffusionNoiseTag);
    const float u1 = 1.0f - philox_uniform01(r.v[0]);
    const float u2 = philox_uniform01(r.v[1]);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831855f * u2);
}

#if !defined(GATUN_DIFFUSION_HOST_ONLY)

template <typename T>
__device__ void diffusion_step(const T* x, const T* model, const T* prev, T* out, T* x0_out, const float* params,
                               const float* factor, const long long* seeds, const long long* steps, long long n,
                               long long len, int cfg) {
    const long long total = n * len;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long s = i / len, j = i - s * len;
        const float* pr = params + s * kDiffusionParams;
        float m;
        if (cfg) {
            const float k = load_f(model + i), u = load_f(model + i + total);
            m = u + pr[6] * (k - u);
        } else {
            m = load_f(model + i);
        }
        if (factor) m *= factor[s];
        const float xv = load_f(x + i);
        float v = pr[0] * xv + pr[1] * m;
        if (prev) v += pr[2] * load_f(prev + i);
        if (pr[3] != 0.0f) v += pr[3] * diffusion_normal(seeds[s], steps[s], j);
        if (x0_out) store_f(x0_out + i, pr[4] * xv + pr[5] * m);
        store_f(out + i, v);
    }
}

template <typename T>
__device__ void cfg_rescale(const T* model, const float* params, float* factor, long long n, long long len) {
    __shared__ float scratch[kWarp];
    const long long total = n * len;
    for (long long s = blockIdx.x; s < n; s += gridDim.x) {
        const float g = params[s * kDiffusionParams + 6], phi = params[s * kDiffusionParams + 7];
        const T* k = model + s * len;
        const T* u = model + total + s * len;
        float sk = 0.0f, sg = 0.0f;
        for (long long j = threadIdx.x; j < len; j += blockDim.x) {
            const float kv = load_f(k + j), uv = load_f(u + j);
            sk += kv;
            sg += uv + g * (kv - uv);
        }
        const float mk = block_sum(sk, scratch) / (float)len;
        const float mg = block_sum(sg, scratch) / (float)len;
        float qk = 0.0f, qg = 0.0f;
        for (long long j = threadIdx.x; j < len; j += blockDim.x) {
            const float kv = load_f(k + j), uv = load_f(u + j);
            const float dk = kv - mk, dg = uv + g * (kv - uv) - mg;
            qk += dk * dk;
            qg += dg * dg;
        }
        qk = block_sum(qk, scratch);
        qg = block_sum(qg, scratch);
        if (threadIdx.x == 0) factor[s] = qg > 0.0f ? 1.0f - phi + phi * sqrtf(qk / qg) : 1.0f;
    }
}

#endif

}  // namespace gatun
