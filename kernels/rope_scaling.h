// rope_scaling.h — the inverse frequency of RoPE pair i under Hugging Face's rope_scaling, one
// definition for the kernels (rope.cuh: nvcc and the cuemu build) and the cpu device
// (native/cpu/rope_kv.cpp, plain g++), so every device rounds the same double to the same fp32.
//
// factor == 1: no scaling; original == 0: "linear" (every frequency / factor, i.e. positions /
// factor); else "llama3": wavelengths 2π/f longer than original/low are divided by factor, shorter
// than original/high are kept, and those between are interpolated smoothly (transformers'
// _compute_llama3_parameters).
#pragma once

#include <math.h>

#include "host_device.h"

namespace gatun {

struct RopeScaling {
    float factor, low, high, original;
};

GATUN_HOST_DEVICE inline float rope_inv_freq(int i, int rotary_dim, float theta, RopeScaling sc) {
    double f = pow((double)theta, -2.0 * (double)i / (double)rotary_dim);
    if (sc.factor != 1.0f) {
        const double wavelen = 6.283185307179586 / f;
        if (sc.original == 0.0f || wavelen > (double)sc.original / sc.low) {
            f /= sc.factor;
        } else if (wavelen >= (double)sc.original / sc.high) {
            const double smooth = ((double)sc.original / wavelen - sc.low) / ((double)sc.high - sc.low);
            f = (1.0 - smooth) * f / sc.factor + smooth * f;
        }
    }
    return (float)f;
}

}  // namespace gatun
