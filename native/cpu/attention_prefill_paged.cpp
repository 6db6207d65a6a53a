// Chunked prefill against the paged KV cache on the CPU: the queries of a new chunk attend to the keys
// already in the cache plus their own (already appended) keys. The tiles are those of the flash prefill
// (attention_tiles.h, shared with attention_prefill.cpp), fed by a K/V source that gathers each key
// block through the block table into contiguous fp32 rows; this file checks the arguments. A row's
// arithmetic depends only on its position in its sequence, len_q, seq_len, the flags and head_dim:
// never on the batch, the tile grouping of other rows or the thread count, and it equals the
// contiguous prefill's bit for bit.
#include "attention_tiles.h"

extern "C" int gatun_cpu_attention_prefill_paged(int dtype, const void* q, const void* k_cache, const void* v_cache,
                                                 void* out, float* lse, const int* cu_seqlens_q, const int* block_tables,
                                                 const int* seq_lens, int batch, int num_q_heads, int num_kv_heads,
                                                 int head_dim, int block_size, int max_blocks_per_seq, float scale,
                                                 int causal, int window_left) {
  using namespace GATUN_NS;
  if (!dtype_size(dtype)) return GATUN_CPU_EDTYPE;
  if (batch < 0 || num_q_heads < 1 || num_kv_heads < 1 || num_q_heads % num_kv_heads || head_dim < 8 ||
      head_dim % 8 || head_dim > kMaxHeadDim || block_size < 1 || max_blocks_per_seq < 0 || !isfinite(scale))
    return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!cu_seqlens_q || !seq_lens) return GATUN_CPU_ENULL;
  if (cu_seqlens_q[0] != 0) return GATUN_CPU_ESHAPE;
  const long long cap = (long long)max_blocks_per_seq * block_size;
  long long max_len = 0;
  for (int b = 0; b < batch; ++b) {
    if (cu_seqlens_q[b + 1] < cu_seqlens_q[b] || seq_lens[b] < 0 || seq_lens[b] > cap) return GATUN_CPU_ESHAPE;
    max_len = std::max<long long>(max_len, seq_lens[b]);
  }
  const long long total_q = cu_seqlens_q[batch];
  if (total_q == 0) return GATUN_CPU_OK;
  if (!q || !out || !lse) return GATUN_CPU_ENULL;
  if (max_len > 0 && (!k_cache || !v_cache || !block_tables)) return GATUN_CPU_ENULL;
  if (total_q * num_q_heads * head_dim > kMaxElems) return GATUN_CPU_ESHAPE;
  for (int b = 0; b < batch; ++b)  // the used entries of each table row must be block ids
    for (long long j = 0; j < (seq_lens[b] + block_size - 1) / block_size; ++j)
      if (block_tables[(long long)b * max_blocks_per_seq + j] < 0) return GATUN_CPU_ESHAPE;

  const TileArgs a{num_q_heads, num_kv_heads, head_dim, scale, causal ? 1 : 0, window_left < 0 ? -1 : window_left};
  const VarlenRows rows{q, out, lse, cu_seqlens_q, num_q_heads, head_dim};
  const PagedSrc src{k_cache, v_cache, block_tables, seq_lens, num_kv_heads, head_dim, block_size, max_blocks_per_seq};
  return run_prefill(dtype, a, rows, src, batch);
}
