// Next-token sampling on the CPU: greedy, temperature, top-k, top-p, Philox randomness.
// The definition (and the scalar helpers: keys, weights, Philox, the uniform) is the one in
// kernels/sampling.cuh, included here as plain C++, so the CPU performs exactly the kernel's fp32
// operations in the same order and returns the same tokens as the emu/cuda kernel.
// Per row: one pass builds the 64-bit keys and the max; the sorted order is produced lazily
// (nth_element + sort of a growing prefix), and each walk adds weights one at a time in that order.
// The total mass without top-k is the kernel's 1024-lane tree (sampling.cuh step 5), replicated.
// Rows run in parallel; a row's token never depends on the batch or the thread count.
#define GATUN_SAMPLING_HOST_ONLY 1
#include "../../kernels/sampling.cuh"

#include <algorithm>
#include <functional>
#include <vector>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

using gatun::kSampleBlock;

struct SortedKeys {
  std::vector<uint64_t> keys;
  long long sorted = 0;
  // makes keys[0, need) the `need` largest keys in descending order
  void ensure(long long need) {
    const long long n = (long long)keys.size();
    if (need <= sorted) return;
    long long tgt = std::max(need, std::min(n, 2 * sorted + 1024));
    if (tgt > n) tgt = n;
    if (tgt < n) std::nth_element(keys.begin() + sorted, keys.begin() + tgt, keys.end(), std::greater<uint64_t>());
    std::sort(keys.begin() + sorted, keys.begin() + tgt, std::greater<uint64_t>());
    sorted = tgt;
  }
};

struct WalkResult {
  bool found;
  int tok;
  long long pos;
  float carry;
  int last_pos;
};

// sampling.cuh sample_walk: C_j sequential over sorted positions 1..limit.
WalkResult walk(SortedKeys& sk, float m, float temp, long long limit, float thr, bool strict) {
  float c = 0.0f;
  int last = -1;
  for (long long j = 0; j < limit; ++j) {
    if (j >= sk.sorted) sk.ensure(j + 1);
    const uint64_t key = sk.keys[j];
    const float w = gatun::sample_weight(gatun::sample_key_logit(key), m, temp);
    c += w;
    if (w > 0.0f) last = gatun::sample_key_index(key);
    if (strict ? c > thr : c >= thr) return {true, gatun::sample_key_index(key), j + 1, c, last};
  }
  return {false, -1, limit, c, last};
}

// common.cuh block_sum over 1024 threads: lane partials in index order, xor butterflies.
void butterfly32(float* a) {
  float b[32];
  for (int k = 16; k > 0; k >>= 1) {
    for (int l = 0; l < 32; ++l) b[l] = a[l] + a[l ^ k];
    for (int l = 0; l < 32; ++l) a[l] = b[l];
  }
}

float tree_sum(const float* x, int vocab, float m, float temp) {
  static_assert(kSampleBlock == 1024, "the tree is 32 groups of 32 lanes");
  float part[kSampleBlock];
  for (int l = 0; l < kSampleBlock; ++l) part[l] = 0.0f;
  for (int i0 = 0; i0 < vocab; i0 += kSampleBlock) {
    const int n = std::min(kSampleBlock, vocab - i0);
    for (int l = 0; l < n; ++l) part[l] += gatun::sample_weight(gatun::sample_canon(x[i0 + l]), m, temp);
  }
  float warps[32];
  for (int w = 0; w < 32; ++w) {
    butterfly32(part + 32 * w);
    warps[w] = part[32 * w];
  }
  butterfly32(warps);
  return warps[0];
}

int sample_row(const float* x, int vocab, float temp, int k, float p, long long seed, long long step) {
  static thread_local SortedKeys sk;
  uint64_t kmax = 0;
  for (int i = 0; i < vocab; ++i) {
    const uint64_t key = gatun::sample_key(x[i], i);
    kmax = key > kmax ? key : kmax;
  }
  if (!(temp > 0.0f)) return gatun::sample_key_index(kmax);
  const float m = gatun::sample_key_logit(kmax);
  sk.keys.resize(vocab);
  for (int i = 0; i < vocab; ++i) sk.keys[i] = gatun::sample_key(x[i], i);
  sk.sorted = 0;
  const long long K = (k <= 0 || k >= vocab) ? vocab : k;
  const float S = K < vocab ? walk(sk, m, temp, K, __builtin_huge_valf(), false).carry : tree_sum(x, vocab, m, temp);
  long long P = K;
  float kept = S;
  if (p < 1.0f) {
    const WalkResult r = walk(sk, m, temp, K, p * S, false);
    kept = r.carry;
    P = r.found ? r.pos : K;
  }
  const float t = gatun::sample_uniform(seed, step) * kept;
  const WalkResult r = walk(sk, m, temp, P, t, true);
  return r.found ? r.tok : r.last_pos;
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" GATUN_CPU_API int gatun_cpu_philox_uniform(float* out, long long seed, long long step, long long n) {
  if (n < 0 || n > GATUN_NS::kMaxElems) return GATUN_CPU_ESHAPE;
  if (n == 0) return GATUN_CPU_OK;
  if (!out) return GATUN_CPU_ENULL;
  auto f = [&](long long b, long long e) {
    for (long long i = b; i < e; ++i) out[i] = gatun::sample_uniform(seed, step + i);
  };
  if (n < (1 << 16)) f(0, n);
  else GATUN_NS::parallel_for(n, 1 << 14, f);
  return GATUN_CPU_OK;
}

extern "C" GATUN_CPU_API int gatun_cpu_sample(const float* logits, int* tokens, const float* temperature,
                                              const int* top_k, const float* top_p, const long long* seeds,
                                              const long long* steps, int batch, int vocab) {
  if (batch < 0 || vocab < 1) return GATUN_CPU_ESHAPE;
  if (batch == 0) return GATUN_CPU_OK;
  if (!logits || !tokens || !temperature || !top_k || !top_p || !seeds || !steps) return GATUN_CPU_ENULL;
  auto f = [&](long long b, long long e) {
    for (long long r = b; r < e; ++r)
      tokens[r] = GATUN_NS::sample_row(logits + r * (long long)vocab, vocab, temperature[r], top_k[r], top_p[r],
                                       seeds[r], steps[r]);
  };
  if (batch == 1 || (long long)batch * vocab < 4096) f(0, batch);
  else GATUN_NS::parallel_for(batch, 1, f);
  return GATUN_CPU_OK;
}
