// video_attention.cu — entry points of the spatio-temporal video attention family (the map,
// the packing of short sequences and the full launch contract in video_attention.cuh).
// Launch: grid (ceil(num_seq / seqs_per_cta) * mtiles, num_q_heads, 1), block (128, 1, 1),
// dynamic shared memory as gatun_attention_prefill_*: 43,520 B (_d64), 76,288 B (_d128, above
// 48 KiB: raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first).
// __launch_bounds__(128, 1): as the paged prefill, lets ptxas take the registers the body needs
// without spilling; shared memory still bounds the blocks per SM.
#include "cuemu/prelude.h"
#include "video_attention.cuh"

#define GATUN_VIDEO(NAME, T, MAX_D)                                                              \
    extern "C" __global__ void __launch_bounds__(gatun::prefill::kThreads, 1)                       \
    NAME(                                                                                           \
            const T* q, const T* k, const T* v, T* out, const T* text_q, const T* text_k,           \
            const T* text_v, T* text_out, int num_seq, int text_len, int seq_len, int per,          \
            long long outer, long long inner, long long step, int num_q_heads, int num_kv_heads,    \
            int head_dim, int seqs_per_cta, int mtiles, float scale, int causal) {                  \
        gatun::video::video_attention<T, MAX_D>(q, k, v, out, text_q, text_k, text_v, text_out,     \
                                                num_seq, text_len, seq_len, per, outer, inner, step, \
                                                num_q_heads, num_kv_heads, head_dim, seqs_per_cta,  \
                                                mtiles, scale, causal);                             \
    }                                                                                               \
    CUEMU_EXPORT(NAME)

GATUN_VIDEO(gatun_video_attention_f32_d64, float, 64);
GATUN_VIDEO(gatun_video_attention_f32_d128, float, 128);
GATUN_VIDEO(gatun_video_attention_f16_d64, __half, 64);
GATUN_VIDEO(gatun_video_attention_f16_d128, __half, 128);
GATUN_VIDEO(gatun_video_attention_bf16_d64, __nv_bfloat16, 64);
GATUN_VIDEO(gatun_video_attention_bf16_d128, __nv_bfloat16, 128);
