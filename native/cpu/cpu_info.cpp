// Runtime ISA detection (cpuid + xgetbv: the OS must also save the AVX-512 register state).
#include <atomic>
#include <cpuid.h>
#include <stdint.h>

#include "gatun_cpu.h"
#include "vec.h"

namespace {

uint64_t xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

// bit 0: avx512 f+bw+vl+dq usable; bit 1: avx512_bf16 as well
int detect() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  if ((xcr0() & 0xE6) != 0xE6) return 0;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM enabled by the OS
  if (__get_cpuid_max(0, nullptr) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned need = bit_AVX512F | bit_AVX512BW | bit_AVX512VL | bit_AVX512DQ;
  if ((b & need) != need) return 0;
  __cpuid_count(7, 1, a, b, c, d);
  return 1 | ((a & (1u << 5)) ? 2 : 0);  // CPUID.(7,1):EAX[5] = AVX512_BF16
}

int features() {
  static const int f = detect();
  return f;
}

}  // namespace

extern "C" int gatun_cpu_has_avx512(void) { return features() & 1; }
extern "C" int gatun_cpu_has_avx512_bf16(void) { return (features() >> 1) & 1; }
extern "C" const char* gatun_cpu_isa(void) {
#ifdef GATUN_AVX512
  return "avx512";
#else
  return "x86-64-v3";
#endif
}

namespace GATUN_NS {
#ifdef __AVX512BF16__
__attribute__((visibility("hidden"))) std::atomic<bool> bf16_hw{gatun_cpu_has_avx512_bf16() != 0};
#endif
// cpuid vendor "AuthenticAMD": the family (base + extended, cpuid 1), else 0
static int detect_amd_family() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163) return 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int base = (a >> 8) & 0xF;
  return base == 0xF ? base + ((a >> 20) & 0xFF) : base;
}
__attribute__((visibility("hidden"))) extern const int amd_family = detect_amd_family();
// cpuid 0x80000006 ECX[31:16]: L2 size in KiB per core (AMD and Intel alike); 1 MiB when absent
static long long detect_l2() {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0x80000000, nullptr) < 0x80000006 || !__get_cpuid(0x80000006, &a, &b, &c, &d)) return 1 << 20;
  const long long kb = c >> 16;
  return kb > 0 ? kb << 10 : 1 << 20;
}
__attribute__((visibility("hidden"))) extern const long long l2_bytes = detect_l2();
}

extern "C" int gatun_cpu_use_avx512_bf16(int use) {
#ifdef __AVX512BF16__
  if (use >= 0) GATUN_NS::bf16_hw.store(use > 0 && gatun_cpu_has_avx512_bf16(), std::memory_order_relaxed);
  return GATUN_NS::bf16_hw.load(std::memory_order_relaxed);
#else
  (void)use;
  return 0;
#endif
}
