// shim_state.h — the state and shared helpers of libgatun_cudashim.so, the test-only CUDA
// driver API subset over cuemu, for testing Gatun's cuda device without a GPU (issue 9;
// ../../shared/DESIGN.md "The cuda device without a GPU"). Internal to the library (it is
// built with -fvisibility=hidden and exports.map): nothing declared here is exported.
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
//
// The library's files:
//   shim_state.h, shim_state.cpp  the state below and the helpers the entry points share:
//                   error recording, preconditions, the device memory pool, the kernel
//                   resource table, context reset, configuration
//   driver_api.cpp  device, context, memory, stream and event entry points (cuInit ... cuEvent*)
//   module_api.cpp  modules, functions, cuLaunchKernel; run_on_device, last_error (device_work.h)
//   control.cpp     the test harness's control functions (cudashim.h)
//   errors.cpp      cuGetErrorName, cuGetErrorString
//   image.cpp       what a module image holds (image.h)
//   cublas.cpp      the cuBLAS subset
#pragma once

#include <cuda.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

// The entry points the library exports (exports.map lists them).
#define SHIM_API extern "C" __attribute__((visibility("default")))

namespace gatun_cudashim::detail {

using Clock = std::chrono::steady_clock;

constexpr const char* kDeviceName = "NVIDIA H100 80GB HBM3 (Gatun cuda shim over cuemu)";
constexpr int kDriverVersion = 13000;
constexpr int kRegsPerBlock = 65536;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr int kDefaultSmemPerBlock = 48 * 1024;
constexpr int kOptinSmemPerBlock = 227 * 1024;  // 232448
constexpr int kDefaultRegs = 32;                // a kernel missing from the resource table

// ------------------------------------------------------------------ state
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

// The one state of the shim; every entry point works under its mutex.
State& S();

// The calling thread's current context (cuCtxSetCurrent).
extern thread_local CUcontext t_current;
// The detail of the calling thread's last failure (gatun_cudashim_last_error).
extern thread_local std::string t_detail;

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));

// ------------------------------------------------------------------ errors, preconditions
// Records the detail of a failure for the calling thread; prints it when verbose.
CUresult fail(State& s, CUresult code, const char* call, const std::string& detail);
// A sticky error: the context is poisoned until reset. Printed once.
CUresult poison(State& s, CUresult code, const char* call, const std::string& detail);

CUresult need_init(State& s, const char* call);
// Calls that work in the current context: initialized, a live current context, not poisoned.
CUresult need_ctx(State& s, const char* call);
CUresult need_device(State& s, const char* call, CUdevice dev);

// ------------------------------------------------------------------ memory
bool in_pool(const State& s, uintptr_t p);
size_t round_up(size_t n, size_t a);
// Reserves the device address range on first use; false if it cannot be mapped.
bool reserve(State& s);
// Next fit over the gaps between live allocations (each followed by a guard page).
uintptr_t find_gap(State& s, uintptr_t from, size_t span);
// Drops the pages and leaves the range reserved and inaccessible.
void unmap_range(uintptr_t p, size_t n);
void remember_freed(State& s, uintptr_t base, size_t size);
// The live allocation holding [p, p+n) (n == 0: p may be one past the end), or null.
const std::pair<const uintptr_t, Alloc>* find_alloc(const State& s, uintptr_t p, size_t n);
// Why [p, p+n) is not inside a live allocation.
std::string describe_bad(const State& s, uintptr_t p, size_t n);

// CUDA_ERROR_INVALID_HANDLE unless h is the legacy, per-thread or NULL stream or a live one.
CUresult check_stream(State& s, const char* call, CUstream h);

// ------------------------------------------------------------------ resources
// Loads kernel-resources.txt beside libcuemu.so or the shim, once (a configured table wins).
void ensure_resources(State& s);

// ------------------------------------------------------------------ reset
// Frees everything the primary context held and clears the sticky error.
void destroy_context(State& s);

// ------------------------------------------------------------------ configure
// gatun_cudashim_configure under the lock: 0 ok, 1 unknown key, 2 bad value, 3 too late.
int configure_locked(State& s, const std::string& key, const std::string& value);
// Applies the GATUN_CUDASHIM_* environment, once (at the first cuInit).
void apply_env(State& s);

}  // namespace gatun_cudashim::detail
