// shim_state.cpp — the state of the test-only CUDA driver shim and the helpers its entry points
// share (declared in shim_state.h, which also has the overview of the shim): error recording
// and preconditions, the device memory pool, the kernel resource table (ptxas's report),
// context reset, and configuration (gatun_cudashim_configure's keys, the GATUN_CUDASHIM_*
// environment).
#include "shim_state.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "../cuemu/cuemu.h"

namespace gatun_cudashim::detail {

// ------------------------------------------------------------------ state
State& S() {
  static State* s = new State;  // never destroyed: kernels or JVM threads may call late
  return *s;
}

thread_local CUcontext t_current = nullptr;
thread_local std::string t_detail;

std::string fmt(const char* f, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

static const char* code_name(CUresult r) {
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

static bool stream_ok(const State& s, CUstream h) {
  return h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD || s.streams.count(reinterpret_cast<Stream*>(h));
}

CUresult check_stream(State& s, const char* call, CUstream h) {
  if (stream_ok(s, h)) return CUDA_SUCCESS;
  return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("stream %p is not a live stream", (void*)h));
}

// ------------------------------------------------------------------ resources
// Parses nvcc --resource-usage output; keeps the sm_90a (else sm_90) figures per kernel.
static bool load_resources(State& s, const std::string& path) {
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

static std::string dir_of(const void* sym) {
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

}  // namespace gatun_cudashim::detail
