// philox.cuh — Philox4x32-10 counter-based RNG (Salmon, Moraes, Dror, Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11), written from the paper's definition.
//
// One header for every user of random numbers: device kernels (nvcc), the cuemu build of the
// same kernels (g++ with the prelude) and the CPU backend (plain C++, no prelude): the integers
// are produced by this one piece of code everywhere, so they are bit-identical on every device.
// It includes nothing from cuemu and uses only 32/64-bit integer arithmetic (no intrinsics, no
// __CUDA_ARCH__ branch): the 32x32->64 multiply compiles to mul.wide / mul.hi on the GPU.
//
// Definition (10 rounds, key schedule bumped between rounds, not after the last):
//   round(c, k): (hi0, lo0) = M0 * c0, (hi1, lo1) = M1 * c2 (64-bit products)
//                c' = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
//   bump(k):     k0 += W0, k1 += W1 (mod 2^32)
//   M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85.
// Known answer: counter 0, key 0 -> 0x6627e8d5 0xe169c58d 0xbc57ac4c 0x9b00dbd8.
//
// Gatun's convention for a 64-bit seed and a 64-bit counter (step):
//   key = (seed & 0xffffffff, seed >> 32), counter = (step & 0xffffffff, step >> 32, c2, c3),
//   with (c2, c3) a stream id chosen by the caller (sampling uses 0, 0).
// uniform01(x) = (float)(x >> 8) * 2^-24: exact, in [0, 1), 2^24 equally spaced values,
// bit-identical everywhere (a 24-bit integer converts exactly and 2^-24 is a power of two).
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define GATUN_PHILOX_FN __host__ __device__ __forceinline__
#else
#define GATUN_PHILOX_FN inline
#endif

namespace gatun {

struct Philox4 {
    uint32_t v[4];
};

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

GATUN_PHILOX_FN Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                      uint32_t k1) {
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += kPhiloxW0;
            k1 += kPhiloxW1;
        }
        const uint64_t p0 = (uint64_t)kPhiloxM0 * c0;
        const uint64_t p1 = (uint64_t)kPhiloxM1 * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    Philox4 out;
    out.v[0] = c0;
    out.v[1] = c1;
    out.v[2] = c2;
    out.v[3] = c3;
    return out;
}

// 64-bit seed and counter, stream (c2, c3).
GATUN_PHILOX_FN Philox4 philox_seed_step(long long seed, long long step, uint32_t c2 = 0, uint32_t c3 = 0) {
    const uint64_t s = (uint64_t)seed, t = (uint64_t)step;
    return philox4x32_10((uint32_t)t, (uint32_t)(t >> 32), c2, c3, (uint32_t)s, (uint32_t)(s >> 32));
}

// (x >> 8) * 2^-24, exact.
GATUN_PHILOX_FN float philox_uniform01(uint32_t x) { return (float)(x >> 8) * 5.9604644775390625e-08f; }

}  // namespace gatun
