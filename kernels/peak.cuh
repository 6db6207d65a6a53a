// peak.cuh — ceiling probes for the GPU benchmarks: kernels that keep one kind of arithmetic unit
// busy and nothing else, so that a benchmark row on the cuda device stands beside the measured
// peak of the unit it uses (fp32 FMA, or tensor-core MMA for fp16/bf16), timed in the same run.
// Their outputs are exact and known, so a test checks that every iteration ran.
//
// ---- gatun_fma_peak_f32(out, mul, add, iterations) -----------------------------------------
//   Every thread runs kPeakChains independent chains acc = fmaf(acc, mul, add), `iterations`
//   times, from acc = c (chain c), and writes the chains' sum to out[global thread index]: with
//   mul = 1 and add = 1 that is kPeakChains * iterations + 28, exact while it stays below 2^24.
//   FLOPs: 2 * kPeakChains * iterations per thread. Any grid, block (256, 1, 1).
//
// ---- gatun_mma_peak_{f16,bf16}(out, value, iterations) -------------------------------------
//   Every warp fills a 16x16 A and B with `value` (rounded to T) and runs kPeakMmas independent
//   accumulators acc += A·B (wmma m16n16k16, fp32), `iterations` times, then stores their sum to
//   its 256 floats of out (warp w of the grid: out[256 w ..]): each element is
//   kPeakMmas * 16 * value^2 * iterations (exact for value 1 while below 2^24).
//   FLOPs: 2 * 16^3 * kPeakMmas * iterations per warp. Any grid, block (128, 1, 1).
#pragma once

#include "common.cuh"

namespace gatun {

constexpr int kPeakChains = 8;
constexpr int kPeakMmas = 8;
constexpr int kPeakFmaThreads = 256;
constexpr int kPeakMmaThreads = 128;

__device__ __forceinline__ void fma_peak(float* out, float mul, float add, int iterations) {
    float acc[kPeakChains];
#pragma unroll
    for (int c = 0; c < kPeakChains; ++c) acc[c] = static_cast<float>(c);
    for (int i = 0; i < iterations; ++i)
#pragma unroll
        for (int c = 0; c < kPeakChains; ++c) acc[c] = fmaf(acc[c], mul, add);
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kPeakChains; ++c) sum += acc[c];
    out[static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x] = sum;
}

template <typename T>
__device__ __forceinline__ void mma_peak(float* out, float value, int iterations) {
    using namespace nvcuda;
    T v;
    store_f(&v, value);
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
    wmma::fill_fragment(a, v);
    wmma::fill_fragment(b, v);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kPeakMmas];
#pragma unroll
    for (int c = 0; c < kPeakMmas; ++c) wmma::fill_fragment(acc[c], 0.0f);
    for (int i = 0; i < iterations; ++i)
#pragma unroll
        for (int c = 0; c < kPeakMmas; ++c) wmma::mma_sync(acc[c], a, b, acc[c]);
#pragma unroll
    for (int c = 1; c < kPeakMmas; ++c)
        for (int e = 0; e < acc[0].num_elements; ++e) acc[0].x[e] += acc[c].x[e];
    const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
    wmma::store_matrix_sync(out + warp * 256, acc[0], 16, wmma::mem_row_major);
}

}  // namespace gatun
