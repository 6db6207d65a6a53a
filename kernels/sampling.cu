// sampling.cu — entry points of the sampling family (bodies and the exact definition in sampling.cuh).
// gatun_sample_f32: grid (G,1,1) any G >= 1 (G = batch natural), block (1024,1,1) exactly, no
// dynamic shared memory. logits [batch, vocab] fp32 contiguous (row stride = vocab); per-row
// temperature fp32, top_k int32, top_p fp32, seeds int64, steps int64; tokens int32 out.
// gatun_philox_uniform: any grid/block; out[i] = uniform01(philox(seed, step + i).x), i < n.
#include "cuemu/prelude.h"
#include "sampling.cuh"

extern "C" __global__ void __launch_bounds__(gatun::kSampleBlock, 1)
gatun_sample_f32(const float* logits, int* tokens, const float* temperature, const int* top_k,
                 const float* top_p, const long long* seeds, const long long* steps, int batch, int vocab) {
    gatun::sample_rows(logits, tokens, temperature, top_k, top_p, seeds, steps, batch, vocab);
}
CUEMU_EXPORT(gatun_sample_f32);

extern "C" __global__ void gatun_philox_uniform(float* out, long long seed, long long step, long long n) {
    gatun::philox_uniform_fill(out, seed, step, n);
}
CUEMU_EXPORT(gatun_philox_uniform);
