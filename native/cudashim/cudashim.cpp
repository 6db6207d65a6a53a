// cudashim.cpp — a CUDA driver API subset over cuemu, for testing Gatun's cuda device
// without a GPU (issue 9; ../../shared/DESIGN.md "The cuda device without a GPU").
//
// It behaves as the driver of one H100 would, as far as Gatun can observe:
//  - one device, sm_90, H100 SXM attributes; device memory is a pool of host memory in one
//    separate mapping (reserved PROT_NONE, pages committed per allocation, a PROT_NONE
//    guard page after each allocation, freed ranges PROT_NONE again and not reused until
//    the allocator wraps around the reservation);
//  - every pointer of a copy, memset or launch is checked against the live allocations:
//    copies and memsets fail with CUDA_ERROR_INVALID_VALUE, a launch with
//    CUDA_ERROR_ILLEGAL_ADDRESS, which is sticky as on hardware;
//  - every operation runs synchronously in the calling thread at submission, under one
//    mutex, so stream order holds trivially and events time what ran before them;
//  - module images must be fatbins (or cubins) with sm_90 code; each function name
//    resolves to the kernel of that name registered with cuemu by the kernel libraries,
//    which the process must have loaded before (same libcuemu.so by soname);
//  - launches are checked as the hardware would (block, grid, dynamic shared memory
//    against cuFuncSetAttribute, registers x threads against ptxas's sm_90a count);
//  - sticky errors poison the primary context until it is released to zero references
//    (which frees everything it held, as the driver does) and retained again;
//  - faults can be injected through gatun_cudashim_configure (cudashim.h).
#include "cudashim.h"

#include <cuda.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../cuemu/cuemu.h"
#include "device_work.h"
#include "image.h"

// cuda.h maps cuEventElapsedTime to cuEventElapsedTime_v2; the shim exports both.
#undef cuEventElapsedTime

#define SHIM_API extern "C" __attribute__((visibility("default")))

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDeviceName = "NVIDIA H100 80GB HBM3 (Gatun cuda shim over cuemu)";
constexpr int kDriverVersion = 13000;
constexpr int kRegsPerBlock = 65536;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr int kDefaultSmemPerBlock = 48 * 1024;
constexpr int kOptinSmemPerBlock = 227 * 1024;  // 232448
constexpr int kDefaultRegs = 32;                // a kernel missing from the resource table

// ------------------------------------------------------------------ state
struct CtxObj {
  int magic = 0x6761746e;
};
CtxObj g_ctx_obj;
CUcontext ctx_handle() { return reinterpret_cast<CUcontext>(&g_ctx_obj); }

struct Resources {
  int regs = kDefaultRegs;
  int smem = 0;
  int stack = 0;
  int spill_stores = 0, spill_loads = 0;
  bool known = false;
};

struct Module;
struct Func {
  Module* mod;
  std::string name;
  Resources res;
  int max_dynamic;  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  int carveout = -1;
  std::vector<int> sizes;  // parameter sizes from cuemu
};

struct Module {
  std::set<std::string> entries;
  bool names_known = false;
  std::string archs;
  std::map<std::string, Func*> funcs;
};

struct Stream {
  unsigned flags;
};

struct Event {
  unsigned flags;
  bool recorded = false;
  Clock::time_point t;
};

struct Alloc {
  size_t size;    // as requested
  size_t mapped;  // page-rounded, committed
};

struct State {
  std::mutex mu;
  bool initialized = false;
  bool env_applied = false;
  int refcount = 0;
  CUresult sticky = CUDA_SUCCESS;
  std::string sticky_detail;

  // memory
  size_t pool_bytes = size_t(4096) << 20;
  size_t page = 4096;
  uintptr_t rbase = 0, rend = 0, cursor = 0;
  size_t committed = 0, live_bytes = 0;
  std::map<uintptr_t, Alloc> allocs;
  std::map<uintptr_t, size_t> freed;  // recently freed (base -> size), for messages
  bool any_alloc = false;
  bool poison = false;

  // objects
  std::set<Module*> modules;
  std::set<Func*> funcs;
  std::set<Stream*> streams;
  std::set<Event*> events;

  // resources
  bool res_tried = false;
  std::string res_path;
  std::map<std::string, Resources> res;

  // knobs and faults
  long long fail_alloc = 0, fail_launch = 0, sticky_launch = 0;
  bool ptx_jit = false;
  bool verbose = false;

  // counters
  long long n_allocs = 0, n_frees = 0, n_launches = 0, n_library_calls = 0, n_resets = 0, n_freed_by_reset = 0;
};

State& S() {
  static State* s = new State;  // never destroyed: kernels or JVM threads may call late
  return *s;
}

thread_local CUcontext t_current = nullptr;
thread_local std::string t_detail;

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

const char* code_name(CUresult r) {
  const char* n = nullptr;
  cuGetErrorName(r, &n);
  return n ? n : "CUDA_ERROR_?";
}

// Records the detail of a failure for the calling thread; prints it when verbose.
CUresult fail(State& s, CUresult code, const char* call, const std::string& detail) {
  t_detail = std::string(call) + ": " + code_name(code) + ": " + detail;
  if (s.verbose) std::fprintf(stderr, "gatun-cudashim: %s\n", t_detail.c_str());
  return code;
}

// A sticky error: the context is poisoned until reset. Printed once.
CUresult poison(State& s, CUresult code, const char* call, const std::string& detail) {
  fail(s, code, call, detail);
  if (s.sticky == CUDA_SUCCESS) {
    s.sticky = code;
    s.sticky_detail = t_detail;
    std::fprintf(stderr, "gatun-cudashim: sticky error, the context is poisoned until reset: %s\n", t_detail.c_str());
  }
  return code;
}

CUresult need_init(State& s, const char* call) {
  if (!s.initialized) return fail(s, CUDA_ERROR_NOT_INITIALIZED, call, "cuInit has not been called");
  return CUDA_SUCCESS;
}

// Calls that work in the current context: initialized, a live current context, not poisoned.
CUresult need_ctx(State& s, const char* call) {
  if (CUresult r = need_init(s, call)) return r;
  if (t_current == nullptr)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, call, "no current context on this thread (cuCtxSetCurrent)");
  if (s.refcount == 0)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, call, "the current primary context has been released");
  if (s.sticky != CUDA_SUCCESS)
    return fail(s, s.sticky, call, "context poisoned by an earlier error: " + s.sticky_detail);
  return CUDA_SUCCESS;
}

CUresult need_device(State& s, const char* call, CUdevice dev) {
  if (CUresult r = need_init(s, call)) return r;
  if (dev != 0) return fail(s, CUDA_ERROR_INVALID_DEVICE, call, fmt("device %d (the shim has one device, 0)", dev));
  return CUDA_SUCCESS;
}

// ------------------------------------------------------------------ memory
bool in_pool(const State& s, uintptr_t p) { return s.rbase != 0 && p >= s.rbase && p < s.rend; }

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

bool reserve(State& s) {
  if (s.rbase) return true;
  s.page = size_t(sysconf(_SC_PAGESIZE));
  // Address space only: several times the pool, so that freed ranges stay unmapped
  // (use after free faults or is caught) until the allocator wraps around.
  const size_t want[] = {std::min(s.pool_bytes * 8, size_t(1) << 40), s.pool_bytes * 2, s.pool_bytes + (size_t(64) << 20)};
  for (size_t w : want) {
    w = round_up(w, s.page);
    void* p = mmap(nullptr, w, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      s.rbase = s.cursor = reinterpret_cast<uintptr_t>(p);
      s.rend = s.rbase + w;
      return true;
    }
  }
  return false;
}

// Next fit over the gaps between live allocations (each followed by a guard page).
uintptr_t find_gap(State& s, uintptr_t from, size_t span) {
  uintptr_t cand = from;
  auto it = s.allocs.lower_bound(from);
  if (it != s.allocs.begin()) {
    auto pv = std::prev(it);
    cand = std::max(cand, pv->first + pv->second.mapped + s.page);
  }
  for (;;) {
    const uintptr_t next = it == s.allocs.end() ? s.rend : it->first;
    if (cand <= next && next - cand >= span) return cand;
    if (it == s.allocs.end()) return 0;
    cand = std::max(cand, it->first + it->second.mapped + s.page);
    ++it;
  }
}

void unmap_range(uintptr_t p, size_t n) {
  // Drops the pages and leaves the range reserved and inaccessible.
  mmap(reinterpret_cast<void*>(p), n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

void remember_freed(State& s, uintptr_t base, size_t size) {
  if (s.freed.size() >= 65536) s.freed.erase(s.freed.begin());
  s.freed[base] = size;
}

// The live allocation holding [p, p+n) (n == 0: p may be one past the end), or null.
const std::pair<const uintptr_t, Alloc>* find_alloc(const State& s, uintptr_t p, size_t n) {
  auto it = s.allocs.upper_bound(p);
  if (it == s.allocs.begin()) return nullptr;
  --it;
  const uintptr_t end = it->first + it->second.size;
  if (p < it->first || p > end) return nullptr;
  if (n == 0 ? p > end : (p >= end || n > end - p)) return nullptr;
  return &*it;
}

// Why [p, p+n) is not inside a live allocation.
std::string describe_bad(const State& s, uintptr_t p, size_t n) {
  std::string what = n ? fmt("[0x%llx, +%zu bytes)", (unsigned long long)p, n) : fmt("0x%llx", (unsigned long long)p);
  if (p == 0) return what + " is NULL";
  if (!in_pool(s, p)) return what + " is not device memory (outside the shim's device address range)";
  auto it = s.allocs.upper_bound(p);
  if (it != s.allocs.begin()) {
    auto pv = std::prev(it);
    const uintptr_t end = pv->first + pv->second.size;
    if (p >= pv->first && p <= end) {
      if (p + n <= end)
        return what + fmt(" lies inside allocation 0x%llx of %zu bytes, at offset %zu", (unsigned long long)pv->first,
                          pv->second.size, size_t(p - pv->first));
      return what + fmt(" runs %zu bytes past the end of allocation 0x%llx of %zu bytes", size_t(p + n - end),
                        (unsigned long long)pv->first, pv->second.size);
    }
  }
  auto ft = s.freed.upper_bound(p);
  if (ft != s.freed.begin()) {
    auto fp = std::prev(ft);
    if (p >= fp->first && p < fp->first + std::max<size_t>(fp->second, 1))
      return what + fmt(" is in freed memory (use after free of allocation 0x%llx of %zu bytes)",
                        (unsigned long long)fp->first, fp->second);
  }
  if (it != s.allocs.begin()) {
    auto pv = std::prev(it);
    return what + fmt(" is not inside any live allocation (%zu bytes past the end of allocation 0x%llx of %zu bytes)",
                      size_t(p - (pv->first + pv->second.size)), (unsigned long long)pv->first, pv->second.size);
  }
  return what + " is not inside any live allocation";
}

bool stream_ok(const State& s, CUstream h) {
  return h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD || s.streams.count(reinterpret_cast<Stream*>(h));
}

// ------------------------------------------------------------------ resources
// Parses nvcc --resource-usage output; keeps the sm_90a (else sm_90) figures per kernel.
bool load_resources(State& s, const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::map<std::string, Resources> table;
  std::map<std::string, int> rank;  // 2 sm_90a, 1 sm_90
  std::string line, name, arch;
  auto num_before = [](const std::string& l, const char* word) -> int {
    size_t p = l.find(word);
    if (p == std::string::npos || p == 0) return -1;
    size_t e = p;
    while (e > 0 && l[e - 1] == ' ') e--;
    size_t b = e;
    while (b > 0 && std::isdigit((unsigned char)l[b - 1])) b--;
    return b < e ? std::atoi(l.c_str() + b) : -1;
  };
  Resources cur;
  while (std::getline(in, line)) {
    size_t p = line.find("Compiling entry function '");
    if (p != std::string::npos) {
      size_t b = p + 26, e = line.find('\'', b);
      name = line.substr(b, e - b);
      size_t a = line.find("for '", e);
      arch = a == std::string::npos ? "" : line.substr(a + 5, line.find('\'', a + 5) - a - 5);
      cur = Resources();
      continue;
    }
    if (name.empty()) continue;
    if (line.find("bytes stack frame") != std::string::npos) {
      cur.stack = std::max(0, num_before(line, "bytes stack frame"));
      cur.spill_stores = std::max(0, num_before(line, "bytes spill stores"));
      cur.spill_loads = std::max(0, num_before(line, "bytes spill loads"));
    } else if (line.find("registers") != std::string::npos && line.find("Used") != std::string::npos) {
      cur.regs = std::max(0, num_before(line, "registers"));
      cur.smem = std::max(0, num_before(line, "bytes smem"));
      cur.known = true;
      const int r = arch == "sm_90a" ? 2 : arch == "sm_90" ? 1 : 0;
      if (r > 0 && r >= rank[name]) {
        rank[name] = r;
        table[name] = cur;
      }
      name.clear();
    }
  }
  s.res = std::move(table);
  s.res_path = path;
  s.res_tried = true;
  return true;
}

std::string dir_of(const void* sym) {
  Dl_info info;
  if (!dladdr(sym, &info) || !info.dli_fname) return "";
  std::string f = info.dli_fname;
  size_t slash = f.rfind('/');
  return slash == std::string::npos ? "." : f.substr(0, slash);
}

void ensure_resources(State& s) {
  if (s.res_tried) return;
  s.res_tried = true;
  for (const void* sym : {reinterpret_cast<const void*>(&cuemu_launch), reinterpret_cast<const void*>(&ensure_resources)}) {
    std::string d = dir_of(sym);
    if (!d.empty() && load_resources(s, d + "/kernel-resources.txt")) return;
  }
  std::fprintf(stderr,
               "gatun-cudashim: no kernel-resources.txt beside libcuemu.so or the shim and none configured "
               "(key \"resources\"): every kernel counts as %d registers, 0 bytes static shared memory\n",
               kDefaultRegs);
}

int regs_rounded(int regs) { return std::max(8, (regs + 7) / 8 * 8); }

// Registers are allocated per warp, in units of 8 per thread (256 per warp).
int max_threads(const Resources& r) {
  const int warps = kRegsPerBlock / (regs_rounded(r.regs) * 32);
  return std::min(kMaxThreadsPerBlock, warps * 32);
}

int default_max_dynamic(const Resources& r) { return std::max(0, kDefaultSmemPerBlock - r.smem); }

// ------------------------------------------------------------------ reset
void destroy_context(State& s) {
  s.n_freed_by_reset += (long long)s.allocs.size();
  for (auto& [base, a] : s.allocs) {
    unmap_range(base, a.mapped);
    remember_freed(s, base, a.size);
  }
  s.allocs.clear();
  s.committed = s.live_bytes = 0;
  for (Func* f : s.funcs) delete f;
  for (Module* m : s.modules) delete m;
  for (Stream* st : s.streams) delete st;
  for (Event* e : s.events) delete e;
  s.funcs.clear();
  s.modules.clear();
  s.streams.clear();
  s.events.clear();
  s.sticky = CUDA_SUCCESS;
  s.sticky_detail.clear();
  s.n_resets++;
}

// ------------------------------------------------------------------ configure
int configure_locked(State& s, const std::string& key, const std::string& value) {
  auto as_ll = [&](long long& out) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (errno || end == value.c_str() || *end || v < 0) return false;
    out = v;
    return true;
  };
  long long v = 0;
  if (key == "resources") {
    if (!load_resources(s, value)) return 2;
    // Functions already resolved pick the new figures up.
    for (Func* f : s.funcs) {
      auto it = s.res.find(f->name);
      f->res = it == s.res.end() ? Resources() : it->second;
      f->max_dynamic = std::min(f->max_dynamic, kOptinSmemPerBlock - f->res.smem);
    }
    return 0;
  }
  if (key == "memory_mb") {
    if (!as_ll(v) || v == 0 || v > (1LL << 24)) return 2;
    if (s.any_alloc || s.rbase) return 3;
    s.pool_bytes = size_t(v) << 20;
    return 0;
  }
  if (key == "fail_alloc") return as_ll(s.fail_alloc) ? 0 : 2;
  if (key == "fail_launch") return as_ll(s.fail_launch) ? 0 : 2;
  if (key == "sticky_launch") return as_ll(s.sticky_launch) ? 0 : 2;
  if (key == "ptx_jit" || key == "poison_alloc" || key == "verbose") {
    if (!as_ll(v) || v > 1) return 2;
    (key == "ptx_jit" ? s.ptx_jit : key == "poison_alloc" ? s.poison : s.verbose) = v == 1;
    return 0;
  }
  if (key == "clear_faults") {
    s.fail_alloc = s.fail_launch = s.sticky_launch = 0;
    return 0;
  }
  return 1;
}

void apply_env(State& s) {
  if (s.env_applied) return;
  s.env_applied = true;
  for (const char* key : {"resources", "memory_mb", "fail_alloc", "fail_launch", "sticky_launch", "ptx_jit",
                          "poison_alloc", "verbose"}) {
    std::string var = "GATUN_CUDASHIM_";
    for (const char* c = key; *c; c++) var += char(std::toupper((unsigned char)*c));
    if (const char* v = std::getenv(var.c_str())) {
      if (int rc = configure_locked(s, key, v))
        std::fprintf(stderr, "gatun-cudashim: ignoring %s=%s (%s)\n", var.c_str(), v,
                     rc == 1 ? "unknown key" : rc == 2 ? "bad value" : "too late");
    }
  }
}

// Shared body of the copies and memsets.
CUresult check_dev(State& s, const char* call, const char* what, CUdeviceptr p, size_t n) {
  if (find_alloc(s, uintptr_t(p), n)) return CUDA_SUCCESS;
  return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s ", what) + describe_bad(s, uintptr_t(p), n));
}

CUresult check_host(State& s, const char* call, const char* what, const void* p, size_t n) {
  if (!p) return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s host pointer is NULL (%zu bytes)", what, n));
  if (in_pool(s, uintptr_t(p)))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("%s host pointer 0x%llx is a device pointer", what, (unsigned long long)uintptr_t(p)));
  return CUDA_SUCCESS;
}

CUresult check_stream(State& s, const char* call, CUstream h) {
  if (stream_ok(s, h)) return CUDA_SUCCESS;
  return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("stream %p is not a live stream", (void*)h));
}

CUresult memcpy_htod(const char* call, CUdeviceptr dst, const void* src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  if (CUresult r = check_host(s, call, "source", src, n)) return r;
  std::memcpy(reinterpret_cast<void*>(dst), src, n);
  return CUDA_SUCCESS;
}

CUresult memcpy_dtoh(const char* call, void* dst, CUdeviceptr src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "source", src, n)) return r;
  if (CUresult r = check_host(s, call, "destination", dst, n)) return r;
  std::memcpy(dst, reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult memcpy_dtod(const char* call, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  if (CUresult r = check_dev(s, call, "source", src, n)) return r;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult memset_d8(const char* call, CUdeviceptr dst, unsigned char v, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  std::memset(reinterpret_cast<void*>(dst), v, n);
  return CUDA_SUCCESS;
}

// Writes msg into the JIT log buffer options of cuModuleLoadDataEx, if given.
void write_jit_log(unsigned n, CUjit_option* options, void** values, CUjit_option buf_opt, CUjit_option size_opt,
                   const std::string& msg) {
  if (!options || !values) return;
  char* buf = nullptr;
  size_t cap = 0;
  int size_index = -1;
  for (unsigned i = 0; i < n; i++) {
    if (options[i] == buf_opt) buf = static_cast<char*>(values[i]);
    if (options[i] == size_opt) {
      cap = size_t(reinterpret_cast<uintptr_t>(values[i]));
      size_index = int(i);
    }
  }
  if (!buf || cap == 0) return;
  size_t w = std::min(cap - 1, msg.size());
  std::memcpy(buf, msg.data(), w);
  buf[w] = 0;
  if (size_index >= 0) values[size_index] = reinterpret_cast<void*>(uintptr_t(w));
}

}  // namespace

// ================================================================== driver API
SHIM_API CUresult cuInit(unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (flags != 0) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuInit", fmt("flags %u (must be 0)", flags));
  apply_env(s);
  s.initialized = true;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDriverGetVersion(int* version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = kDriverVersion;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetCount(int* count) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuDeviceGetCount")) return r;
  if (!count) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetCount", "count is NULL");
  *count = 1;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuDeviceGet")) return r;
  if (!device) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGet", "device is NULL");
  if (ordinal != 0) return fail(s, CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet", fmt("ordinal %d (one device)", ordinal));
  *device = 0;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceGetName", dev)) return r;
  if (!name || len <= 0) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetName", "name is NULL or len <= 0");
  std::snprintf(name, size_t(len), "%s", kDeviceName);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceGetAttribute", dev)) return r;
  if (!pi) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute", "pi is NULL");
  if (int(attrib) < 1 || int(attrib) >= int(CU_DEVICE_ATTRIBUTE_MAX))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute", fmt("attribute %d", int(attrib)));
  int v = 0;
  switch (attrib) {
    // H100 SXM5 80GB (GH100, 132 SMs), as the CUDA 13 driver reports it.
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = kDefaultSmemPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = kRegsPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = 1980000; break;  // kHz
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: v = 512; break;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = 132; break;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: v = CU_COMPUTEMODE_DEFAULT; break;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: v = 512; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = 0x18; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = 2619000; break;  // kHz
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: v = 2048; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: v = 3; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: v = 228 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: v = 2; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: v = kOptinSmemPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: v = 32 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: v = 134213632; break;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: v = 4; break;
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: v = -1; break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: v = -1; break;
    default: v = 0; break;  // texture/surface limits and features the shim does not model
  }
  *pi = v;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceTotalMem_v2", dev)) return r;
  if (!bytes) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceTotalMem_v2", "bytes is NULL");
  *bytes = s.pool_bytes;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuDevicePrimaryCtxRetain";
  if (CUresult r = need_device(s, call, dev)) return r;
  if (!pctx) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pctx is NULL");
  if (s.refcount > 0 && s.sticky != CUDA_SUCCESS)
    return fail(s, s.sticky, call,
                "the primary context is poisoned; release every reference to reset it: " + s.sticky_detail);
  s.refcount++;
  *pctx = ctx_handle();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuDevicePrimaryCtxRelease_v2";
  if (CUresult r = need_device(s, call, dev)) return r;
  if (s.refcount == 0) return fail(s, CUDA_ERROR_INVALID_CONTEXT, call, "the primary context is not retained");
  if (--s.refcount == 0) destroy_context(s);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxSetCurrent(CUcontext ctx) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuCtxSetCurrent")) return r;
  if (ctx != nullptr && ctx != ctx_handle())
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent", fmt("%p is not the primary context", (void*)ctx));
  if (ctx != nullptr && s.refcount == 0)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent", "the primary context has been released");
  t_current = ctx;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxGetDevice(CUdevice* device) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuCtxGetDevice")) return r;
  if (!device) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuCtxGetDevice", "device is NULL");
  if (!t_current || s.refcount == 0)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxGetDevice", "no current context on this thread");
  *device = 0;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxSynchronize(void) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  return need_ctx(s, "cuCtxSynchronize");
}

// ------------------------------------------------------------------ memory
SHIM_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuMemAlloc_v2";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!dptr) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "dptr is NULL");
  if (bytesize == 0) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "bytesize is 0");
  if (s.fail_alloc > 0 && --s.fail_alloc == 0)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: injected failure (fail_alloc)", bytesize));
  if (!reserve(s)) return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, "cannot reserve the device address range");
  s.any_alloc = true;
  const size_t mapped = round_up(bytesize, s.page);
  if (bytesize > s.pool_bytes || mapped > s.pool_bytes - s.committed)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call,
                fmt("%zu bytes requested, %zu of %zu bytes free", bytesize, s.pool_bytes - s.committed, s.pool_bytes));
  const size_t span = mapped + s.page;  // and a guard page
  uintptr_t p = find_gap(s, s.cursor, span);
  if (!p) p = find_gap(s, s.rbase, span);
  if (!p) return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: device address range fragmented", bytesize));
  if (mprotect(reinterpret_cast<void*>(p), mapped, PROT_READ | PROT_WRITE) != 0)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: mprotect failed: %s", bytesize, std::strerror(errno)));
  if (s.poison) std::memset(reinterpret_cast<void*>(p), 0xFF, mapped);
  s.cursor = p + span;
  s.allocs[p] = Alloc{bytesize, mapped};
  // The range is live again: forget what was freed there.
  s.freed.erase(s.freed.lower_bound(p), s.freed.lower_bound(p + span));
  s.committed += mapped;
  s.live_bytes += bytesize;
  s.n_allocs++;
  *dptr = CUdeviceptr(p);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuMemFree_v2";
  if (CUresult r = need_ctx(s, call)) return r;
  if (dptr == 0) return CUDA_SUCCESS;  // as the driver: freeing NULL is a no-op
  auto it = s.allocs.find(uintptr_t(dptr));
  if (it == s.allocs.end()) {
    auto ft = s.freed.find(uintptr_t(dptr));
    if (ft != s.freed.end())
      return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                  fmt("double free of 0x%llx (%zu bytes, freed before)", (unsigned long long)dptr, ft->second));
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("0x%llx is not the start of a live allocation: ", (unsigned long long)dptr) +
                    describe_bad(s, uintptr_t(dptr), 0));
  }
  unmap_range(it->first, it->second.mapped);
  remember_freed(s, it->first, it->second.size);
  s.committed -= it->second.mapped;
  s.live_bytes -= it->second.size;
  s.allocs.erase(it);
  s.n_frees++;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuMemGetInfo_v2")) return r;
  if (!free || !total) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuMemGetInfo_v2", "free or total is NULL");
  *free = s.pool_bytes - s.committed;
  *total = s.pool_bytes;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char uc, size_t n) {
  return memset_d8("cuMemsetD8_v2", dst, uc, n, nullptr, false);
}
SHIM_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char uc, size_t n, CUstream st) {
  return memset_d8("cuMemsetD8Async", dst, uc, n, st, true);
}
SHIM_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  return memcpy_htod("cuMemcpyHtoD_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  return memcpy_dtoh("cuMemcpyDtoH_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return memcpy_dtod("cuMemcpyDtoD_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream st) {
  return memcpy_htod("cuMemcpyHtoDAsync_v2", dst, src, n, st, true);
}
SHIM_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream st) {
  return memcpy_dtoh("cuMemcpyDtoHAsync_v2", dst, src, n, st, true);
}
SHIM_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream st) {
  return memcpy_dtod("cuMemcpyDtoDAsync_v2", dst, src, n, st, true);
}

// ------------------------------------------------------------------ streams, events
SHIM_API CUresult cuStreamCreate(CUstream* phStream, unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamCreate")) return r;
  if (!phStream) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", "phStream is NULL");
  if (flags & ~unsigned(CU_STREAM_NON_BLOCKING))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", fmt("flags 0x%x", flags));
  Stream* st = new Stream{flags};
  s.streams.insert(st);
  *phStream = reinterpret_cast<CUstream>(st);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuStreamDestroy_v2(CUstream h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamDestroy_v2")) return r;
  auto it = s.streams.find(reinterpret_cast<Stream*>(h));
  if (it == s.streams.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy_v2", fmt("stream %p is not a live stream", (void*)h));
  delete *it;
  s.streams.erase(it);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuStreamSynchronize(CUstream h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamSynchronize")) return r;
  return check_stream(s, "cuStreamSynchronize", h);  // work ran at submission
}

SHIM_API CUresult cuEventCreate(CUevent* phEvent, unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventCreate")) return r;
  if (!phEvent) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuEventCreate", "phEvent is NULL");
  const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if ((flags & ~known) || ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuEventCreate", fmt("flags 0x%x", flags));
  Event* e = new Event{flags, false, Clock::time_point()};
  s.events.insert(e);
  *phEvent = reinterpret_cast<CUevent>(e);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventRecord(CUevent h, CUstream st) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventRecord")) return r;
  auto it = s.events.find(reinterpret_cast<Event*>(h));
  if (it == s.events.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventRecord", fmt("event %p is not a live event", (void*)h));
  if (CUresult r = check_stream(s, "cuEventRecord", st)) return r;
  (*it)->recorded = true;
  (*it)->t = Clock::now();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventSynchronize(CUevent h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventSynchronize")) return r;
  if (!s.events.count(reinterpret_cast<Event*>(h)))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize", fmt("event %p is not a live event", (void*)h));
  return CUDA_SUCCESS;
}

static CUresult elapsed(const char* call, float* ms, CUevent start, CUevent end) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (!ms) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pMilliseconds is NULL");
  Event* a = reinterpret_cast<Event*>(start);
  Event* b = reinterpret_cast<Event*>(end);
  if (!s.events.count(a) || !s.events.count(b))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "start or end is not a live event");
  if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "an event was created with CU_EVENT_DISABLE_TIMING");
  if (!a->recorded || !b->recorded)
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "an event has not been recorded");
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return elapsed("cuEventElapsedTime", ms, start, end);
}
SHIM_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  return elapsed("cuEventElapsedTime_v2", ms, start, end);
}

SHIM_API CUresult cuEventDestroy_v2(CUevent h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventDestroy_v2")) return r;
  auto it = s.events.find(reinterpret_cast<Event*>(h));
  if (it == s.events.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy_v2", fmt("event %p is not a live event", (void*)h));
  delete *it;
  s.events.erase(it);
  return CUDA_SUCCESS;
}

// ------------------------------------------------------------------ modules, functions
SHIM_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                     CUjit_option* options, void** optionValues) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuModuleLoadDataEx";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!module || !image) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "module or image is NULL");
  if (numOptions > 0 && (!options || !optionValues))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call, "numOptions > 0 with NULL options or values");
  cudashim::ImageInfo info = cudashim::parse_image(image, s.ptx_jit);
  if (!info.runnable) {
    const std::string msg = "gatun cuda shim: " + info.error;
    write_jit_log(numOptions, options, optionValues, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, msg);
    return fail(s, CUresult(info.code), call, info.error);
  }
  write_jit_log(numOptions, options, optionValues, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, "");
  write_jit_log(numOptions, options, optionValues, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                "gatun cuda shim: loaded " + info.archs + "; kernels run on cuemu");
  Module* m = new Module;
  m->entries = std::move(info.entries);
  m->names_known = info.names_known;
  m->archs = info.archs;
  s.modules.insert(m);
  *module = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuModuleUnload(CUmodule h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuModuleUnload")) return r;
  auto it = s.modules.find(reinterpret_cast<Module*>(h));
  if (it == s.modules.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload", fmt("module %p is not loaded", (void*)h));
  for (auto& [name, f] : (*it)->funcs) {
    s.funcs.erase(f);
    delete f;
  }
  delete *it;
  s.modules.erase(it);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuModuleGetFunction";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!hfunc || !name) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "hfunc or name is NULL");
  auto it = s.modules.find(reinterpret_cast<Module*>(hmod));
  if (it == s.modules.end()) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("module %p is not loaded", (void*)hmod));
  Module* m = *it;
  auto known = m->funcs.find(name);
  if (known != m->funcs.end()) {
    *hfunc = reinterpret_cast<CUfunction>(known->second);
    return CUDA_SUCCESS;
  }
  if (m->names_known && !m->entries.count(name)) {
    std::string list;
    for (const auto& e : m->entries) list += (list.empty() ? "" : ", ") + e;
    return fail(s, CUDA_ERROR_NOT_FOUND, call, fmt("'%s' is not an entry of the module (", name) + list + ")");
  }
  const int nparams = cuemu_kernel_param_count(name);
  if (nparams < 0)
    return fail(s, CUDA_ERROR_NOT_FOUND, call,
                fmt("'%s': no emu build of this kernel is registered with cuemu (load the kernel library "
                    "before the shim)",
                    name));
  ensure_resources(s);
  Func* f = new Func;
  f->mod = m;
  f->name = name;
  auto r = s.res.find(name);
  if (r != s.res.end()) f->res = r->second;
  f->max_dynamic = default_max_dynamic(f->res);
  for (int i = 0; i < nparams; i++) f->sizes.push_back(cuemu_kernel_param_size(name, i));
  m->funcs[name] = f;
  s.funcs.insert(f);
  *hfunc = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuFuncGetAttribute";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!pi) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pi is NULL");
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f)) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("function %p is not live", (void*)hfunc));
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = max_threads(f->res); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = f->res.smem; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = f->res.stack; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = f->res.regs; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = 0; break;
    default: return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("attribute %d", int(attrib)));
  }
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuFuncSetAttribute";
  if (CUresult r = need_ctx(s, call)) return r;
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f)) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("function %p is not live", (void*)hfunc));
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
      const int limit = kOptinSmemPerBlock - f->res.smem;
      if (value < 0 || value > limit)
        return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                    fmt("%s: MAX_DYNAMIC_SHARED_SIZE_BYTES %d exceeds %d (227 KiB opt-in minus %d bytes static)",
                        f->name.c_str(), value, limit, f->res.smem));
      f->max_dynamic = value;
      return CUDA_SUCCESS;
    }
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100)
        return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s: carveout %d", f->name.c_str(), value));
      f->carveout = value;
      return CUDA_SUCCESS;
    default:
      return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                  fmt("%s: attribute %d cannot be set (the shim supports MAX_DYNAMIC_SHARED_SIZE_BYTES and "
                      "PREFERRED_SHARED_MEMORY_CARVEOUT)",
                      f->name.c_str(), int(attrib)));
  }
}

SHIM_API CUresult cuLaunchKernel(CUfunction hfunc, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                 unsigned int by, unsigned int bz, unsigned int smem, CUstream st, void** params,
                                 void** extra) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuLaunchKernel")) return r;
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel", fmt("function %p is not live", (void*)hfunc));
  const std::string callname = "cuLaunchKernel(" + f->name + ")";
  const char* call = callname.c_str();
  if (CUresult r = check_stream(s, call, st)) return r;
  if (extra && extra[0] != CU_LAUNCH_PARAM_END)
    return fail(s, CUDA_ERROR_NOT_SUPPORTED, call, "the shim takes kernelParams only, not extra");
  if (s.sticky_launch > 0 && --s.sticky_launch == 0)
    return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, "injected sticky failure (sticky_launch)");
  if (s.fail_launch > 0 && --s.fail_launch == 0)
    return fail(s, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, call, "injected failure (fail_launch)");
  const unsigned long long threads = (unsigned long long)bx * by * bz;
  if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || threads > kMaxThreadsPerBlock)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("block (%u,%u,%u): 1 to 1024 threads, x and y at most 1024, z at most 64", bx, by, bz));
  if (gx == 0 || gy == 0 || gz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("grid (%u,%u,%u): x 1 to 2^31-1, y and z 1 to 65535", gx, gy, gz));
  if (smem > unsigned(f->max_dynamic))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("%u bytes of dynamic shared memory exceed the function's limit of %d (default 48 KiB minus "
                    "%d static; raise it with cuFuncSetAttribute MAX_DYNAMIC_SHARED_SIZE_BYTES, at most 227 KiB)",
                    smem, f->max_dynamic, f->res.smem));
  if ((long long)threads > max_threads(f->res)) {
    const int rr = regs_rounded(f->res.regs);
    return fail(s, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, call,
                fmt("%llu threads x %d registers (ptxas sm_90a: %d%s) = %llu > %d registers per block; at most %d "
                    "threads",
                    threads, rr, f->res.regs, f->res.known ? "" : ", unknown: default", threads * rr, kRegsPerBlock,
                    max_threads(f->res)));
  }
  if (!f->sizes.empty() && !params)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("kernelParams is NULL, the kernel takes %zu", f->sizes.size()));
  for (size_t i = 0; i < f->sizes.size(); i++) {
    if (!params[i]) return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("kernelParams[%zu] is NULL", i));
    if (f->sizes[i] != 8) continue;
    uint64_t v;
    std::memcpy(&v, params[i], 8);
    if (!in_pool(s, uintptr_t(v))) continue;  // an integer or a host pointer, not device memory
    if (!find_alloc(s, uintptr_t(v), 0))
      return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, fmt("parameter %zu: ", i) + describe_bad(s, uintptr_t(v), 0));
  }
  char err[1024];
  const int rc = cuemu_launch(f->name.c_str(), gx, gy, gz, bx, by, bz, smem, params, err, sizeof err);
  if (rc == 1) return fail(s, CUDA_ERROR_INVALID_VALUE, call, err);
  if (rc != 0) {
    const bool assertion = std::strstr(err, "assertion") != nullptr;
    return poison(s, assertion ? CUDA_ERROR_ASSERT : CUDA_ERROR_LAUNCH_FAILED, call, err);
  }
  s.n_launches++;
  return CUDA_SUCCESS;
}

// ================================================================== work of the shim's other libraries
CUresult gatun_cudashim::run_on_device(const char* call, CUstream stream, const DeviceRange* ranges, size_t count,
                                       void (*work)(void*), void* arg) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (CUresult r = check_stream(s, call, stream)) return r;
  for (size_t i = 0; i < count; i++) {
    const uintptr_t p = uintptr_t(ranges[i].ptr);
    if (ranges[i].bytes && !find_alloc(s, p, ranges[i].bytes))
      return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, fmt("operand %zu: ", i) + describe_bad(s, p, ranges[i].bytes));
  }
  work(arg);
  s.n_library_calls++;
  return CUDA_SUCCESS;
}

const char* gatun_cudashim::last_error() { return t_detail.c_str(); }

// ================================================================== control (test harness)
SHIM_API int gatun_cudashim_configure(const char* key, const char* value) {
  if (!key) return 1;
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  return configure_locked(s, key, value ? value : "");
}

SHIM_API long long gatun_cudashim_live_allocations(void) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  return (long long)s.allocs.size();
}

SHIM_API long long gatun_cudashim_live_bytes(void) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  return (long long)s.live_bytes;
}

SHIM_API long long gatun_cudashim_stat(const char* name) {
  if (!name) return -1;
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const std::string n = name;
  if (n == "live_allocations") return (long long)s.allocs.size();
  if (n == "live_bytes") return (long long)s.live_bytes;
  if (n == "committed_bytes") return (long long)s.committed;
  if (n == "pool_bytes") return (long long)s.pool_bytes;
  if (n == "allocations") return s.n_allocs;
  if (n == "frees") return s.n_frees;
  if (n == "launches") return s.n_launches;
  if (n == "library_calls") return s.n_library_calls;
  if (n == "resets") return s.n_resets;
  if (n == "freed_by_reset") return s.n_freed_by_reset;
  if (n == "modules") return (long long)s.modules.size();
  if (n == "streams") return (long long)s.streams.size();
  if (n == "events") return (long long)s.events.size();
  if (n == "sticky") return (long long)s.sticky;
  if (n == "ctx_refcount") return s.refcount;
  return -1;
}

SHIM_API const char* gatun_cudashim_last_error(void) {
  if (t_detail.empty()) {
    State& s = S();
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.sticky_detail.empty()) t_detail = s.sticky_detail;
  }
  return t_detail.c_str();
}
