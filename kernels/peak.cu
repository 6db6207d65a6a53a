// peak.cu — entry points of the ceiling probes (bodies and contract in peak.cuh).
#include "cuemu/prelude.h"
#include "peak.cuh"

extern "C" __global__ void __launch_bounds__(gatun::kPeakFmaThreads)
gatun_fma_peak_f32(float* out, float mul, float add, int iterations) {
    gatun::fma_peak(out, mul, add, iterations);
}
CUEMU_EXPORT(gatun_fma_peak_f32);

#define GATUN_MMA_PEAK(NAME, T)                                                                  \
    extern "C" __global__ void __launch_bounds__(gatun::kPeakMmaThreads)                         \
    NAME(float* out, float value, int iterations) {                                              \
        gatun::mma_peak<T>(out, value, iterations);                                              \
    }                                                                                            \
    CUEMU_EXPORT(NAME)

GATUN_MMA_PEAK(gatun_mma_peak_f16, __half);
GATUN_MMA_PEAK(gatun_mma_peak_bf16, __nv_bfloat16);
