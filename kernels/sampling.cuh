// sampling.cuh — next-token sampling: greedy, temperature, top-k, top-p, with Philox randomness.
//
// ---------------------------------------------------------------- launch contract
// gatun_sample_f32: grid (G,1,1), any G >= 1 (rows are grid-strided: row = blockIdx.x, += G;
// G = batch is the natural choice); block (kSampleBlock = 1024, 1, 1) exactly (the total-mass
// tree below is defined over 1024 lanes; any other block traps); no dynamic shared memory,
// ~13.5 KiB static shared memory; no global scratch.
// gatun_philox_uniform: any grid and block (grid-stride over n); no shared memory.
//
// ---------------------------------------------------------------- the exact definition
// The CPU backend (native/cpu/sampling.cpp) includes this header with
// GATUN_SAMPLING_HOST_ONLY and runs the same scalar helpers below, so both devices perform
// the same fp32 operations in the same order and return the same token ids. A Java reference
// must follow these steps literally (fp32 arithmetic, glibc-like correctly rounded expf):
//
// Row r, x = logits[r, 0..V-1], T = temperature[r], k = top_k[r], p = top_p[r].
//  1. Key of token i: x' = x_i with NaN -> -inf and -0 -> +0; o = ord(x') (the IEEE bits mapped
//     to an unsigned order: negative -> ~bits, else bits | 0x80000000); key_i = o << 32 |
//     (0xffffffff - i). Keys are distinct; "sorted order" = descending key = descending logit,
//     equal logits by lower index first. It depends only on the logits, never on exp rounding.
//  2. Greedy (!(T > 0), i.e. T <= 0 or NaN): the token of the largest key (argmax, lowest index
//     on ties; an all -inf/NaN row gives token 0). Nothing else is computed.
//  3. m = x' of the largest key. Weight w_i = (x'_i == m) ? 1.0f : expf((x'_i - m) / T)
//     (fp32 subtract, fp32 IEEE divide, fp32 expf; never fused). w of the first token is 1.
//  4. K = (k <= 0 || k >= V) ? V : k. C_j = fp32 running sum of the weights of the first j
//     tokens in sorted order, added one at a time (C_1 = w_(1), C_j = C_{j-1} + w_(j)).
//  5. Total mass S: if K < V, S = C_K. If K == V, S = tree sum over index order: 1024 lane
//     partials s_l = sum of w_i for i = l, l+1024, l+2048, ... (sequential, increasing i,
//     starting from +0), then within each group of 32 lanes five xor-butterfly levels
//     (a_l <- a_l + a_{l^16}, then ^8, ^4, ^2, ^1, all lanes at once), then the same butterfly
//     over the 32 group results; S = the result (common.cuh block_sum with 1024 threads).
//  6. Top-p (on when p < 1; off for p >= 1 or NaN): P = the smallest j <= K with
//     C_j >= p * S (fp32 product); kept = C_P. If there is none, P = K and kept = C_K.
//     Top-p off: P = K, kept = S.
//  7. u = ((philox(seed, step).x >> 8) * 2^-24) (philox.cuh; counter (step lo, step hi, 0, 0),
//     key (seed lo, seed hi)); t = u * kept (fp32 product).
//  8. The token is the one at the smallest j <= P with C_j > t. If there is none (t rounded up
//     to kept, or S and C_K differ by rounding), it is the last token j <= P with w_(j) > 0.
//  A token with w == 0 (e.g. a -inf logit, or an underflowed weight) can never be chosen while
//  a positive weight exists; if every logit is -inf, all tokens have weight 1 (uniform).
//
// ---------------------------------------------------------------- how the kernel does it
// One block per row. Pass 1: block max of keys (greedy ends here). The sorted order is walked
// in chunks of at most 1024 keys, each found without sorting the vocabulary: a radix descent
// over the 64-bit key space (8-bit digits, shared histogram, at most 8 passes over the row,
// usually 2-4) finds a lower bound lo such that 1 <= |{key in [lo, hi)}| <= cap; those keys
// are gathered into shared memory, bitonic-sorted, their weights computed in parallel, and
// one thread adds them in order (C_j must be a sequential fp32 sum). The next chunk uses
// hi = lo. A walk stops at its condition or its limit, so typical rows (top-k <= 1024, or a
// peaked distribution under top-p) need one chunk per walk. Up to three walks per row: C_K
// (top-k on), P (top-p on), the sample. Cost grows with the number of sorted positions walked:
// with no filter and a flat distribution the sample walk may visit a large part of the vocab.
#pragma once

#if !defined(GATUN_SAMPLING_HOST_ONLY)
#include "common.cuh"
#endif
#include "philox.cuh"

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace gatun {

constexpr int kSampleBlock = 1024;  // threads per block, and lanes of the S tree (step 5)
constexpr int kSampleChunk = 1024;  // keys per walked chunk (<= kSampleBlock)
constexpr int kSampleBins = 256;    // 8-bit radix digits

GATUN_PHILOX_FN uint32_t sample_f2u(float x) {
#if defined(__CUDACC__)
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
#endif
}
GATUN_PHILOX_FN float sample_u2f(uint32_t u) {
#if defined(__CUDACC__)
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, 4);
    return x;
#endif
}

// NaN -> -inf, -0 -> +0.
GATUN_PHILOX_FN float sample_canon(float x) {
    if (x != x) return -__builtin_huge_valf();
    if (x == 0.0f) return 0.0f;
    return x;
}
GATUN_PHILOX_FN uint32_t sample_ord(float canon) {
    const uint32_t b = sample_f2u(canon);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
GATUN_PHILOX_FN float sample_unord(uint32_t o) {
    return sample_u2f((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}
GATUN_PHILOX_FN uint64_t sample_key(float x, int i) {
    return ((uint64_t)sample_ord(sample_canon(x)) << 32) | (uint64_t)(0xffffffffu - (uint32_t)i);
}
GATUN_PHILOX_FN int sample_key_index(uint64_t key) { return (int)(0xffffffffu - (uint32_t)key); }
GATUN_PHILOX_FN float sample_key_logit(uint64_t key) { return sample_unord((uint32_t)(key >> 32)); }
// canon: a canonical logit (sample_canon); m: the canonical max; t > 0.
GATUN_PHILOX_FN float sample_weight(float canon, float m, float t) {
    return canon == m ? 1.0f : expf((canon - m) / t);
}
GATUN_PHILOX_FN float sample_uniform(long long seed, long long step) {
    return philox_uniform01(philox_seed_step(seed, step).v[0]);
}

}  // namespace gatun

#if !defined(GATUN_SAMPLING_HOST_ONLY)
namespace gatun {

struct SampleShared {
    unsigned long long keys[kSampleChunk];
    float w[kSampleChunk];
    unsigned hist[kSampleBins];
    unsigned long long red[kWarp];
    float scratch[kWarp];
    unsigned long long lo, pfx;
    unsigned count;
    int pbits, decided;
    // walk state (thread 0 writes, everyone reads after a barrier)
    float carry;
    int found, tok, last_pos;
    long long pos;
};

__device__ __forceinline__ unsigned long long sample_block_max_u64(unsigned long long v, unsigned long long* red) {
    const int lane = threadIdx.x % kWarp;
    const int warp = threadIdx.x / kWarp;
    const int nwarps = blockDim.x / kWarp;
#pragma unroll
    for (int k = kWarp / 2; k > 0; k >>= 1) {
        const unsigned long long o = __shfl_xor_sync(kFullMask, v, k);
        v = o > v ? o : v;
    }
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nwarps ? red[lane] : 0ull;
#pragma unroll
    for (int k = kWarp / 2; k > 0; k >>= 1) {
        const unsigned long long o = __shfl_xor_sync(kFullMask, v, k);
        v = o > v ? o : v;
    }
    __syncthreads();
    return v;
}

// Finds lo with 1 <= |{i : lo <= key_i < hi}| <= cap (there must be at least one key < hi) and
// leaves it in sh.lo. All threads call it.
__device__ __forceinline__ void sample_select_chunk(const float* xr, int vocab, unsigned long long hi, int cap,
                                                    SampleShared& sh) {
    const int tid = threadIdx.x;
    if (tid == 0) {
        sh.pfx = 0;
        sh.pbits = 0;
        sh.decided = 0;
    }
    for (int pass = 0; pass < 8; ++pass) {
        const int shift = 56 - 8 * pass;
        if (tid < kSampleBins) sh.hist[tid] = 0;
        __syncthreads();
        const unsigned long long pfx = sh.pfx;
        const int pbits = sh.pbits;
        for (int i = tid; i < vocab; i += blockDim.x) {
            const unsigned long long key = sample_key(xr[i], i);
            if (key < hi && (pbits == 0 || (key >> (64 - pbits)) == pfx))
                atomicAdd(&sh.hist[(key >> shift) & (kSampleBins - 1)], 1u);
        }
        __syncthreads();
        if (tid == 0) {
            const unsigned long long base = pbits == 0 ? 0ull : pfx << (64 - pbits);
            unsigned above = 0;
            int b = kSampleBins - 1;
            for (; b >= 0; --b) {
                const unsigned h = sh.hist[b];
                if (above + h <= (unsigned)cap) {
                    above += h;
                    continue;
                }
                if (above > 0) {  // take the bins above b
                    sh.lo = base | ((unsigned long long)(b + 1) << shift);
                    sh.decided = 1;
                } else {  // bin b alone is too big: descend into it
                    sh.pfx = (pfx << 8) | (unsigned long long)b;
                    sh.pbits = pbits + 8;
                }
                break;
            }
            if (b < 0) {  // the whole subtree fits
                sh.lo = base;
                sh.decided = 1;
            }
        }
        __syncthreads();
        if (sh.decided) break;  // uniform: read after the barrier by every thread
    }
    // (keys are distinct, so at the last digit every bin holds <= 1 key and a decision is made)
}

// Walks sorted positions 1..limit, C_j = carry. Stops at the first j with C_j > thr (strict) or
// C_j >= thr; sets sh.found, sh.tok (token at j), sh.carry (C_j, or C_limit when not found),
// sh.pos (j), sh.last_pos (last token walked with w > 0). All threads call it.
__device__ __forceinline__ void sample_walk(const float* xr, int vocab, float m, float temp, long long limit,
                                            float thr, bool strict, SampleShared& sh) {
    const int tid = threadIdx.x;
    __syncthreads();  // everyone has read the previous walk's results
    if (tid == 0) {
        sh.carry = 0.0f;
        sh.found = 0;
        sh.tok = -1;
        sh.last_pos = -1;
    }
    unsigned long long hi = ~0ull;
    long long done = 0;
    __syncthreads();
    while (done < limit) {
        const int cap = (int)(limit - done < kSampleChunk ? limit - done : kSampleChunk);
        sample_select_chunk(xr, vocab, hi, cap, sh);
        const unsigned long long lo = sh.lo;
        if (tid == 0) sh.count = 0;
        __syncthreads();
        for (int i = tid; i < vocab; i += blockDim.x) {
            const unsigned long long key = sample_key(xr[i], i);
            if (key >= lo && key < hi) sh.keys[atomicAdd(&sh.count, 1u)] = key;
        }
        __syncthreads();
        const int n = (int)sh.count;
        int nsort = 2;
        while (nsort < n) nsort <<= 1;
        if (tid >= n && tid < nsort) sh.keys[tid] = 0ull;  // real keys are > 0: pads sort last
        __syncthreads();
        for (int k = 2; k <= nsort; k <<= 1) {
            for (int j = k >> 1; j > 0; j >>= 1) {
                const int ixj = tid ^ j;
                if (tid < nsort && ixj > tid) {
                    const unsigned long long a = sh.keys[tid], b = sh.keys[ixj];
                    const bool desc = (tid & k) == 0;
                    if (desc ? a < b : a > b) {
                        sh.keys[tid] = b;
                        sh.keys[ixj] = a;
                    }
                }
                __syncthreads();
            }
        }
        if (tid < n) sh.w[tid] = sample_weight(sample_key_logit(sh.keys[tid]), m, temp);
        __syncthreads();
        if (tid == 0) {
            float c = sh.carry;
            int last = sh.last_pos;
            for (int t = 0; t < n; ++t) {
                const float w = sh.w[t];
                c += w;
                if (w > 0.0f) last = sample_key_index(sh.keys[t]);
                if (strict ? c > thr : c >= thr) {
                    sh.found = 1;
                    sh.tok = sample_key_index(sh.keys[t]);
                    sh.pos = done + t + 1;
                    break;
                }
            }
            sh.carry = c;
            sh.last_pos = last;
        }
        __syncthreads();
        if (sh.found) break;  // uniform
        done += n;
        hi = lo;
    }
}

__device__ __forceinline__ void sample_rows(const float* logits, int* tokens, const float* temperature,
                                            const int* top_k, const float* top_p, const long long* seeds,
                                            const long long* steps, int batch, int vocab) {
    __shared__ SampleShared sh;
    if (blockDim.x != kSampleBlock) __trap();  // the S tree is defined over 1024 lanes
    const int tid = threadIdx.x;
    for (int row = blockIdx.x; row < batch; row += gridDim.x) {
        const float* xr = logits + (long long)row * vocab;
        unsigned long long kmax = 0;
        for (int i = tid; i < vocab; i += blockDim.x) {
            const unsigned long long key = sample_key(xr[i], i);
            kmax = key > kmax ? key : kmax;
        }
        kmax = sample_block_max_u64(kmax, sh.red);
        const float temp = temperature[row];
        if (!(temp > 0.0f)) {  // greedy (uniform branch)
            if (tid == 0) tokens[row] = sample_key_index(kmax);
            continue;
        }
        const float m = sample_key_logit(kmax);
        const int k = top_k[row];
        const long long K = (k <= 0 || k >= vocab) ? vocab : k;
        const float p = top_p[row];
        float S;
        if (K < vocab) {
            sample_walk(xr, vocab, m, temp, K, __builtin_huge_valf(), false, sh);
            S = sh.carry;
        } else {
            float s = 0.0f;
            for (int i = tid; i < vocab; i += blockDim.x) s += sample_weight(sample_canon(xr[i]), m, temp);
            S = block_sum(s, sh.scratch);
        }
        long long P = K;
        float kept = S;
        if (p < 1.0f) {
            sample_walk(xr, vocab, m, temp, K, p * S, false, sh);
            kept = sh.carry;
            P = sh.found ? sh.pos : K;
        }
        const float t = sample_uniform(seeds[row], steps[row]) * kept;
        sample_walk(xr, vocab, m, temp, P, t, true, sh);
        if (tid == 0) tokens[row] = sh.found ? sh.tok : sh.last_pos;
        __syncthreads();  // sh is reused by the next row
    }
}

__device__ __forceinline__ void philox_uniform_fill(float* out, long long seed, long long step, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = sample_uniform(seed, step + i);
}

}  // namespace gatun
#endif
