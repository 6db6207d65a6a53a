// dit.cu — extern "C" entry points of dit.cuh (the DiT glue family).
#include "dit.cuh"

// Each entry is named in full where it is instantiated, so every kernel name can be found as written.
#define GATUN_ADA_LAYER_NORM(NAME, T)                                                                       \
    extern "C" __global__ void __launch_bounds__(gatun::kMaxBlock, 1)                                       \
    NAME(const T* x, const T* shift, const T* scale, T* y, long long rows, long long cols,                  \
         long long rows_per_batch, long long mod_stride, float eps) {                                       \
        gatun::ada_layer_norm<T>(x, shift, scale, y, rows, cols, rows_per_batch, mod_stride, eps);          \
    }                                                                                                       \
    CUEMU_EXPORT(NAME)
#define GATUN_GATED_RESIDUAL(NAME, T)                                                                       \
    extern "C" __global__ void NAME(const T* x, const T* gate, const T* y, T* out, long long n,             \
                                    long long cols, long long batch_elems, long long gate_stride) {         \
        gatun::gated_residual<T>(x, gate, y, out, n, cols, batch_elems, gate_stride);                       \
    }                                                                                                       \
    CUEMU_EXPORT(NAME)
#define GATUN_PATCHIFY(NAME, FN, T)                                                                         \
    extern "C" __global__ void NAME(const T* src, T* dst, long long n, long long c, long long f,            \
                                    long long h, long long w, long long pt, long long ph, long long pw) {    \
        gatun::FN<T>(src, dst, n, gatun::PatchGeometry{c, f, h, w, pt, ph, pw});                            \
    }                                                                                                       \
    CUEMU_EXPORT(NAME)
#define GATUN_TIMESTEP_EMBEDDING(NAME, T)                                                                   \
    extern "C" __global__ void NAME(const float* t, T* emb, long long n, long long dim, float max_period) { \
        gatun::timestep_embedding<T>(t, emb, n, dim, max_period);                                           \
    }                                                                                                       \
    CUEMU_EXPORT(NAME)

GATUN_ADA_LAYER_NORM(gatun_ada_layer_norm_f32, float);
GATUN_ADA_LAYER_NORM(gatun_ada_layer_norm_f16, __half);
GATUN_ADA_LAYER_NORM(gatun_ada_layer_norm_bf16, __nv_bfloat16);
GATUN_GATED_RESIDUAL(gatun_gated_residual_f32, float);
GATUN_GATED_RESIDUAL(gatun_gated_residual_f16, __half);
GATUN_GATED_RESIDUAL(gatun_gated_residual_bf16, __nv_bfloat16);
// patchify / unpatchify move elements without arithmetic: one build per element size
GATUN_PATCHIFY(gatun_patchify_b32, patchify, float);
GATUN_PATCHIFY(gatun_patchify_b16, patchify, unsigned short);
GATUN_PATCHIFY(gatun_unpatchify_b32, unpatchify, float);
GATUN_PATCHIFY(gatun_unpatchify_b16, unpatchify, unsigned short);
GATUN_TIMESTEP_EMBEDDING(gatun_timestep_embedding_f32, float);
GATUN_TIMESTEP_EMBEDDING(gatun_timestep_embedding_f16, __half);
GATUN_TIMESTEP_EMBEDDING(gatun_timestep_embedding_bf16, __nv_bfloat16);
