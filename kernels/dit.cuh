// dit.cuh — the glue a diffusion transformer (DiT) needs around its GEMMs and attention:
// adaLN (LayerNorm without affine, modulated per batch element), the gated residual, 3D
// patchify / unpatchify of a latent video, and the sinusoidal timestep embedding.
//
// Layouts (all contiguous, elements):
//   x, y      [rows, cols], rows = batch * rows_per_batch (the tokens of batch element b are
//             rows b*rows_per_batch ..); shift, scale, gate: cols values per batch element,
//             batch element b's at offset b * mod_stride (views into one [B, k*cols] tensor).
//   latent    [B, C, F, H, W]; tokens [B, T, S, C*pt*ph*pw] with T = F/pt, S = (H/ph)*(W/pw),
//             token s = hi*(W/pw) + wi, feature ((c*pt + dt)*ph + dh)*pw + dw (Conv3d's
//             weight order, so the patch embedding is a linear over it).
//   t [n] fp32, emb [n, dim]: emb[r, j] = cos(t_r f_j) for j < dim/2, sin(t_r f_(j-dim/2)) for
//             j < 2*(dim/2), 0 for an odd dim's last column; f_j = max_period^(-j/(dim/2)).
//
// Launch contract: ada_layer_norm is a row kernel (one block per row, rows grid-strided, B a
// power of two in [32, 1024]); the rest are grid-stride elementwise kernels (B a multiple of 32,
// any grid). No dynamic shared memory. fp32 math, one rounding to T per output; the timestep
// embedding's argument and cos/sin are computed in double (t f_j reaches 1000 radians, where an
// fp32 argument would be off by 1e-4).
#pragma once

#include "common.cuh"
#include "patch_geometry.h"

namespace gatun {

// Two passes over the row (mean, then centred sum of squares: no cancellation), a third writes.
// Fixed per-thread order and a B-fixed block reduction: a row's result depends on its values only.
template <typename T>
__device__ void ada_layer_norm(const T* x, const T* shift, const T* scale, T* y, long long rows,
                               long long cols, long long rows_per_batch, long long mod_stride,
                               float eps) {
    __shared__ float scratch[kWarp];
    const float inv_cols = 1.0f / static_cast<float>(cols);
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * cols;
        T* yr = y + row * cols;
        const long long b = row / rows_per_batch;
        const T* sh = shift + b * mod_stride;
        const T* sc = scale + b * mod_stride;
        float sum = 0.0f;
        for_each_col(xr, cols, [&](long long, float v) { sum += v; });
        const float mean = block_sum(sum, scratch) * inv_cols;
        float ss = 0.0f;
        for_each_col(xr, cols, [&](long long, float v) { ss += (v - mean) * (v - mean); });
        const float rstd = rsqrtf(block_sum(ss, scratch) * inv_cols + eps);
        for_each_col(xr, cols, [&](long long c, float v) {
            store_f(yr + c, (v - mean) * rstd * (1.0f + load_f(sc + c)) + load_f(sh + c));
        });
    }
}

template <typename T>
__device__ void gated_residual(const T* x, const T* gate, const T* y, T* out, long long n,
                               long long cols, long long batch_elems, long long gate_stride) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const float g = load_f(gate + (i / batch_elems) * gate_stride + i % cols);
        store_f(out + i, load_f(x + i) + g * load_f(y + i));
    }
}

// Pure gathers / scatters: every element copied exactly, each written once (the map is a bijection).
template <typename T>
__device__ void patchify(const T* latent, T* tokens, long long n, PatchGeometry g) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        tokens[i] = latent[g.latent_index(i)];
}

template <typename T>
__device__ void unpatchify(const T* tokens, T* latent, long long n, PatchGeometry g) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        latent[g.latent_index(i)] = tokens[i];
}

template <typename T>
__device__ void timestep_embedding(const float* t, T* emb, long long n, long long dim, float max_period) {
    const long long half = dim / 2;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n * dim; i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / dim, j = i % dim;
        float v = 0.0f;
        if (j < 2 * half) {
            const long long k = j < half ? j : j - half;
            const double arg = (double)t[r] * exp(-log((double)max_period) * (double)k / (double)half);
            v = (float)(j < half ? cos(arg) : sin(arg));
        }
        store_f(emb + i, v);
    }
}

}  // namespace gatun
