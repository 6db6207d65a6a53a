// elementwise.cuh — the small per-element ops a transformer block needs between its big
// kernels: residual add, SwiGLU's silu(gate)·up, GELU (tanh form), and the embedding gather.
// Memory-bound: one element per thread per step, grid-stride over the whole tensor, coalesced.
//
// Launch contract (every entry): block = (B,1,1), B a multiple of 32 up to 1024 (256 is
// what Gatun uses); grid = (G,1,1), any G >= 1 (elements are grid-strided); no shared memory.
// All tensors contiguous. fp32 math, one rounding to T per output.
//   add        y[i] = a[i] + b[i], i < n                         (y may alias a or b)
//   silu_mul   x [rows, 2*cols] = [gate | up] per row → y [rows, cols] = silu(gate) * up
//   gelu_tanh  y[i] = 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))  (the "tanh" GELU of GPT-2/DiT)
//   embedding  y[t, :] = table[ids[t], :], ids int32 already checked in range by the caller
#pragma once

#include "common.cuh"

namespace gatun {

__device__ __forceinline__ long long global_thread() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long grid_threads() { return (long long)gridDim.x * blockDim.x; }

template <typename T>
__device__ void add(const T* a, const T* b, T* y, long long n) {
    for (long long i = global_thread(); i < n; i += grid_threads()) store_f(y + i, load_f(a + i) + load_f(b + i));
}

template <typename T>
__device__ void silu_mul(const T* x, T* y, long long rows, long long cols) {
    const long long n = rows * cols;
    for (long long i = global_thread(); i < n; i += grid_threads()) {
        const long long r = i / cols, c = i % cols;
        const float gate = load_f(x + r * 2 * cols + c), up = load_f(x + r * 2 * cols + cols + c);
        store_f(y + i, gate / (1.0f + expf(-gate)) * up);
    }
}

template <typename T>
__device__ void gelu_tanh(const T* x, T* y, long long n) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    for (long long i = global_thread(); i < n; i += grid_threads()) {
        const float v = load_f(x + i);
        // = v / (1 + exp(-2z)): 1 + tanh(z) would cancel for very negative v
        store_f(y + i, v / (1.0f + expf(-2.0f * k * (v + 0.044715f * v * v * v))));
    }
}

template <typename T>
__device__ void embedding(const int* ids, const T* table, T* y, long long tokens, long long hidden) {
    const long long n = tokens * hidden;
    for (long long i = global_thread(); i < n; i += grid_threads()) {
        const long long t = i / hidden, h = i % hidden;
        y[i] = table[(long long)ids[t] * hidden + h];  // a gather: no arithmetic, no rounding
    }
}

}  // namespace gatun
