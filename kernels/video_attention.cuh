// video_attention.cuh — spatio-temporal attention over video latents laid out [B, T, S, H, D]
// (T frames, S spatial patches per frame), read in place with strides: no permute copies.
// Full 3D attention (all T·S tokens of a clip, optionally behind a text prefix), spatial (each
// frame within itself) and temporal (each patch position across frames) are ONE kernel: the
// flash body of attention_prefill.cuh with a map that addresses "sequence z, token i".
//
// ---- Sequences ------------------------------------------------------------------------------
//   Sequence z (0 <= z < num_seq) has len = text_len + seq_len tokens. Token i < text_len is
//   text row z*text_len + i of text_q/k/v/out [num_seq, text_len, H(kv), D]; token i >= text_len
//   is video token row base(z) + (i - text_len)*step of q/k/v/out (rows of H(kv)·D elements),
//       base(z) = (z / per) * outer + (z % per) * inner.
//     full:     num_seq = B,   seq_len = T·S, per = 1, outer = T·S, step = 1   (text optional)
//     spatial:  num_seq = B·T, seq_len = S,   per = 1, outer = S,   step = 1
//     temporal: num_seq = B·S, seq_len = T,   per = S, outer = T·S, inner = 1, step = S
//   Text and video tokens form one joint sequence: both attend and are attended, both outputs
//   are written (MM-DiT / CogVideoX joint attention). causal != 0: token i sees keys j <= i.
//   GQA: q head h reads kv head h / (num_q_heads / num_kv_heads).
//
// ---- Packing short sequences (temporal: T is typically 8..33) -----------------------------
//   len <= 32: one block takes seqs_per_cta = 64 / len sequences, their rows back to back
//   (row r: sequence r / len, token r % len). Their keys share key tiles: with tk = len rounded
//   up to 8 and gk = 32 / tk sequences per tile, sequence g's keys are packed positions
//   kb(g) = (g / gk)*32 + (g % gk)*tk .. +len-1, every other key masked. A warp skips a tile none
//   of its rows sees (attention_prefill.cuh), so e.g. T = 16 does 2 warp-tiles of 16×32 per
//   sequence instead of a 64-row block per sequence.
//   len > 32: seqs_per_cta = 1, mtiles = ceil(len / 64) blocks per sequence (the prefill split).
//
// ---- Launch contract (exact) -----------------------------------------------------------------
//   kernel  gatun_video_attention_{f32,f16,bf16}_d{64,128}   (MAX_D = 64 or 128)
//   grid    (ceil(num_seq / seqs_per_cta) * mtiles, num_q_heads, 1)
//   block   (128, 1, 1)
//   dynamic shared memory: as gatun_attention_prefill_* (43,520 B d64; 76,288 B d128, which
//           needs CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first)
//   seqs_per_cta = len <= 32 ? 64 / len : 1; mtiles = len <= 32 ? 1 : ceil(len / 64).
//   head_dim % 8 == 0, 8 <= head_dim <= MAX_D; num_q_heads % num_kv_heads == 0; all tensors
//   16-byte aligned; text pointers may be null when text_len == 0.
//
// ---- Numerics / determinism ------------------------------------------------------------------
//   A row's arithmetic is the prefill body's for the same keys: key tiles start at multiples of
//   32 from the sequence's key 0 (len > 32), or hold the whole sequence at a slot offset that is
//   a multiple of 8 (len <= 32), so each key lands in the same lane and order as in prefill.
//   The output equals gatun_attention_prefill_* run on the gathered contiguous sequences bit
//   for bit, and does not depend on which other sequences share its block.
#pragma once

#include "attention_prefill.cuh"

namespace gatun {
namespace video {

using prefill::kBlockM;
using prefill::kBlockN;

template <typename T>
struct VideoMap {
    const T* q;
    const T* k;
    const T* v;
    T* out;
    const T* text_q;
    const T* text_k;
    const T* text_v;
    T* text_out;
    long long outer, inner, step;
    int num_seq, text_len, seq_len, per, num_q_heads, num_kv_heads, seqs_per_cta, mtiles, causal;
    // set by begin
    int h, kvh, head_dim, len, z0, count, m0, tk, gk, n_lo, n_hi;

    // Key base of the block's g-th sequence in packed key positions.
    __device__ __forceinline__ int key_base(int g) const { return (g / gk) * kBlockN + (g % gk) * tk; }

    __device__ __forceinline__ bool begin(int hd) {
        const int cta = static_cast<int>(blockIdx.x) / mtiles;
        h = blockIdx.y;
        kvh = h / (num_q_heads / num_kv_heads);
        head_dim = hd;
        len = text_len + seq_len;
        z0 = cta * seqs_per_cta;
        count = min(seqs_per_cta, num_seq - z0);
        m0 = (static_cast<int>(blockIdx.x) % mtiles) * kBlockM;
        if (count <= 0 || m0 >= len) return false;
        tk = len <= kBlockN ? (len + 7) / 8 * 8 : kBlockN;
        gk = len <= kBlockN ? kBlockN / tk : 1;
        n_lo = 0;
        n_hi = seqs_per_cta > 1 ? key_base(count - 1) + len : (causal ? min(len, m0 + kBlockM) : len);
        return true;
    }
    // Row r of the block: sequence g of the block, token i; false when r is not a row.
    __device__ __forceinline__ bool row(int r, int& g, int& i) const {
        const int t = m0 + r;
        g = t / len;
        i = t % len;
        return g < count;
    }
    __device__ __forceinline__ void keys(int r, int& lo, int& hi) const {
        int g, i;
        if (!row(r, g, i)) {
            lo = 0;
            hi = -1;
            return;
        }
        lo = key_base(g);
        hi = lo + (causal ? i : len - 1);
    }
    // Token i of sequence z in the text or the video tensor, head hh of `heads`.
    template <typename P>
    __device__ __forceinline__ P* token(P* video, P* text, int heads, int hh, int z, int i) const {
        const long long row =
            i < text_len ? static_cast<long long>(z) * text_len + i
                         : static_cast<long long>(z / per) * outer + static_cast<long long>(z % per) * inner +
                               static_cast<long long>(i - text_len) * step;
        return (i < text_len ? text : video) + (row * heads + hh) * head_dim;
    }
    __device__ __forceinline__ const T* q_row(int r) const {
        int g, i;
        return row(r, g, i) ? token(q, text_q, num_q_heads, h, z0 + g, i) : nullptr;
    }
    __device__ __forceinline__ T* out_row(int r) const {
        int g, i;
        return row(r, g, i) ? token(out, text_out, num_q_heads, h, z0 + g, i) : nullptr;
    }
    __device__ __forceinline__ float* lse_row(int) const { return nullptr; }
    // Packed key n: sequence g of the block, token j; false when the slot holds no key.
    __device__ __forceinline__ bool key(int n, int& g, int& j) const {
        if (seqs_per_cta == 1) {
            g = 0;
            j = n;
        } else {
            const int slot = n % kBlockN;
            g = (n / kBlockN) * gk + slot / tk;
            j = slot % tk;
        }
        return g < count && j < len;
    }
    __device__ __forceinline__ const T* k_row(int n) const {
        int g, j;
        return key(n, g, j) ? token(k, text_k, num_kv_heads, kvh, z0 + g, j) : nullptr;
    }
    __device__ __forceinline__ const T* v_row(int n) const {
        int g, j;
        return key(n, g, j) ? token(v, text_v, num_kv_heads, kvh, z0 + g, j) : nullptr;
    }
};

template <typename T, int MAX_D>
__device__ __forceinline__ void video_attention(
    const T* q, const T* k, const T* v, T* out, const T* text_q, const T* text_k, const T* text_v,
    T* text_out, int num_seq, int text_len, int seq_len, int per, long long outer, long long inner,
    long long step, int num_q_heads, int num_kv_heads, int head_dim, int seqs_per_cta, int mtiles,
    float scale, int causal) {
    VideoMap<T> map;
    map.q = q;
    map.k = k;
    map.v = v;
    map.out = out;
    map.text_q = text_q;
    map.text_k = text_k;
    map.text_v = text_v;
    map.text_out = text_out;
    map.outer = outer;
    map.inner = inner;
    map.step = step;
    map.num_seq = num_seq;
    map.text_len = text_len;
    map.seq_len = seq_len;
    map.per = per;
    map.num_q_heads = num_q_heads;
    map.num_kv_heads = num_kv_heads;
    map.seqs_per_cta = seqs_per_cta;
    map.mtiles = mtiles;
    map.causal = causal;
    prefill::attention_tile_body<T, MAX_D>(map, head_dim, scale);
}

}  // namespace video
}  // namespace gatun
