// Spatio-temporal video attention on the CPU: the twin of kernels/video_attention.cuh (its header
// defines the sequences). Tokens [B, T, S, H, D] are read in place with strides: sequence z's video
// token i is row base(z) + i*step, base(z) = (z / per)*outer + (z % per)*inner, behind an optional
// text prefix of text_len rows. The tiles are the flash prefill's (attention_tiles.h): one sequence
// per work item (short temporal sequences are not packed into vector lanes, since the lanes of a
// tile share their keys; sequences of up to 32 tokens take attention_short.h's path, as in
// prefill), and a row's arithmetic equals gatun_cpu_attention_prefill's on the gathered contiguous
// sequence bit for bit.
#include "attention_tiles.h"

namespace GATUN_NS {
namespace {

struct VideoSeqs {
  int L, N, per;
  long long outer, inner, step;
  // token row of token i of sequence z in its tensor (text rows when i < L)
  long long row(int z, int i) const {
    return i < L ? (long long)z * L + i : (long long)(z / per) * outer + (long long)(z % per) * inner + (long long)(i - L) * step;
  }
};

struct VideoRows {
  const void *q, *tq;
  void *out, *tout;
  VideoSeqs s;
  int hq, D;
  int len_q(int) const { return s.L + s.N; }
  long long at(int seq, int h, int i) const { return (s.row(seq, i) * hq + h) * D; }
  template <class T>
  const T* q_row(int seq, int h, int i) const { return (const T*)(i < s.L ? tq : q) + at(seq, h, i); }
  template <class T>
  T* out_row(int seq, int h, int i) const { return (T*)(i < s.L ? tout : out) + at(seq, h, i); }
  float* lse_row(int, int, int) const { return nullptr; }
};

struct VideoSrc {
  const void *k, *v, *tk, *tv;
  VideoSeqs s;
  int hkv, D;
  int len_k(int) const { return s.L + s.N; }
  template <class Dt>
  SegmentKV<Dt> at(int seq, int kvh) const {
    using T = typename Dt::T;
    const long long row = (long long)hkv * D, o = s.row(seq, s.L) * row + (long long)kvh * D;
    const long long ot = (long long)seq * s.L * row + (long long)kvh * D;
    return {(const T*)k + o, (const T*)v + o, s.step * row, D,
            s.L ? (const T*)tk + ot : nullptr, s.L ? (const T*)tv + ot : nullptr, row, s.L};
  }
};

}  // namespace
}  // namespace GATUN_NS

extern "C" int gatun_cpu_video_attention(int dtype, const void* q, const void* k, const void* v, void* out,
                                         const void* text_q, const void* text_k, const void* text_v, void* text_out,
                                         int num_seq, int text_len, int seq_len, int per, long long outer,
                                         long long inner, long long step, int num_q_heads, int num_kv_heads,
                                         int head_dim, float scale, int causal) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (num_seq < 0 || text_len < 0 || seq_len < 1 || per < 1 || outer < 0 || inner < 0 || step < 0 ||
      num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads || head_dim < 8 || head_dim % 8 ||
      head_dim > kMaxHeadDim || !isfinite(scale) || (long long)text_len + seq_len > (1LL << 30))
    return GATUN_CPU_ESHAPE;
  if (num_seq == 0) return GATUN_CPU_OK;
  if (!q || !k || !v || !out || (text_len > 0 && (!text_q || !text_k || !text_v || !text_out))) return GATUN_CPU_ENULL;
  const VideoSeqs s{text_len, seq_len, per, outer, inner, step};
  // the last sequence's last token is the furthest row of every layout the header describes
  const long long last = s.row(num_seq - 1, text_len + seq_len - 1);
  if (last > kMaxElems / ((long long)num_q_heads * head_dim)) return GATUN_CPU_ESHAPE;

  const TileArgs a{num_q_heads, num_kv_heads, head_dim, scale, causal ? 1 : 0, -1};
  const VideoRows rows{q, text_q, out, text_out, s, num_q_heads, head_dim};
  const VideoSrc src{k, v, text_k, text_v, s, num_kv_heads, head_dim};
  return run_prefill(dtype, a, rows, src, num_seq);
}
