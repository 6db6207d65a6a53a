// control.cpp — the test-only CUDA driver shim's control functions, which the Java test harness
// calls through FFM (declared and documented in cudashim.h): configuration knobs and fault
// injection, live allocations, counters, and the last error's detail. The overview of the shim
// and its shared state are in shim_state.h.
#include "cudashim.h"

#include <mutex>
#include <string>

#include "shim_state.h"

using namespace gatun_cudashim::detail;

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
