// Copy-bandwidth probe: the ceiling for elementwise ops. Large copies are split across the pool
// and use non-temporal stores (no read-for-ownership of the destination).
#include <string.h>

#include "rows.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

void copy_nt(char* d, const char* s, long long n) {
  long long head = (long long)((64 - ((uintptr_t)d & 63)) & 63);
  if (head > n) head = n;
  memcpy(d, s, head);
  d += head, s += head, n -= head;
  long long i = 0;
#ifdef GATUN_AVX512
  for (; i + 256 <= n; i += 256) {
    __m512i a = _mm512_loadu_si512(s + i), b = _mm512_loadu_si512(s + i + 64);
    __m512i c = _mm512_loadu_si512(s + i + 128), e = _mm512_loadu_si512(s + i + 192);
    _mm512_stream_si512((__m512i*)(d + i), a);
    _mm512_stream_si512((__m512i*)(d + i + 64), b);
    _mm512_stream_si512((__m512i*)(d + i + 128), c);
    _mm512_stream_si512((__m512i*)(d + i + 192), e);
  }
#else
  for (; i + 128 <= n; i += 128) {
    __m256i a = _mm256_loadu_si256((const __m256i*)(s + i)), b = _mm256_loadu_si256((const __m256i*)(s + i + 32));
    __m256i c = _mm256_loadu_si256((const __m256i*)(s + i + 64)), e = _mm256_loadu_si256((const __m256i*)(s + i + 96));
    _mm256_stream_si256((__m256i*)(d + i), a);
    _mm256_stream_si256((__m256i*)(d + i + 32), b);
    _mm256_stream_si256((__m256i*)(d + i + 64), c);
    _mm256_stream_si256((__m256i*)(d + i + 96), e);
  }
#endif
  memcpy(d + i, s + i, n - i);
  _mm_sfence();
}

}  // namespace
}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_copy(void* dst, const void* src, long long bytes) {
  using namespace GATUN_NS;
  if (bytes < 0 || bytes > (kMaxElems << 2)) return GATUN_CPU_ESHAPE;
  if (bytes == 0 || dst == src) return GATUN_CPU_OK;
  if (!dst || !src) return GATUN_CPU_ENULL;
  char* d = (char*)dst;
  const char* s = (const char*)src;
  if ((d < s + bytes && s < d + bytes) || bytes < (1LL << 20)) {  // overlap or small: libc
    memmove(d, s, bytes);
    return GATUN_CPU_OK;
  }
  const bool nt = bytes >= (16LL << 20);
  const long long chunk = 1LL << 20;  // 1 MiB pieces, aligned so streaming heads stay rare
  auto body = [&](long long c0, long long c1) {
    long long b = c0 * chunk, e = c1 * chunk < bytes ? c1 * chunk : bytes;
    if (nt) copy_nt(d + b, s + b, e - b);
    else memcpy(d + b, s + b, e - b);
  };
  parallel_for((bytes + chunk - 1) / chunk, 1, body);
  return GATUN_CPU_OK;
}
