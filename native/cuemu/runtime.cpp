// cuemu runtime: runs CUDA kernels compiled by g++ on CPU fibers.
//
// One worker OS thread runs one block at a time. Each CUDA thread of the
// block is a fiber (switch.S) on a 64 KiB mmap'd stack with a guard page;
// stacks are reused across blocks. A fiber runs until it blocks at a barrier
// or a warp collective, or finishes. The scheduler resumes runnable fibers in
// the order chosen by CUEMU_ORDER and, when none can run, either releases a
// barrier (all threads at the same call site) or reports the error.
//
// Errors never end the process: the failing fiber records the message and
// switches back to the scheduler for good; the other fibers that stopped
// mid-kernel are resumed once to leave the same way (abandon_rest); their
// stacks are simply reused.
//
// Variants: CUEMU_ASAN (ASan fiber annotations, one worker, shared memory as
// plain statics) and CUEMU_TSAN (one TSan fiber per CUDA thread, barriers and
// collectives publish their happens-before explicitly, one worker).
#include "cuemu.h"
#include "prelude.h"

// The kernel-facing spellings are macros; the runtime uses the field names.
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim

#include <assert.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#if defined(CUEMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CUEMU_TSAN)
#include <sanitizer/tsan_interface.h>
// Every fiber switch passes __tsan_switch_to_fiber_no_sync: a synchronizing switch would order all
// CUDA threads of a block and TSan would never report a race between them (barriers and
// collectives publish their own order with TSAN_ACQUIRE/TSAN_RELEASE).
#define TSAN_ACQUIRE(p) __tsan_acquire((void*)(p))
#define TSAN_RELEASE(p) __tsan_release((void*)(p))
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#endif

#if defined(CUEMU_ASAN)
#define CUEMU_NO_ASAN __attribute__((no_sanitize_address, noinline))
#else
#define CUEMU_NO_ASAN
#endif

extern "C" void cuemu_switch(void** save_sp, void* new_sp);
extern "C" void cuemu_fiber_start();

namespace cuemu {

__thread ThreadCtx* tls_ctx = nullptr;

namespace {

#if defined(CUEMU_ASAN)
const char* const kVariant = "asan";
#elif defined(CUEMU_TSAN)
const char* const kVariant = "tsan";
#else
const char* const kVariant = "plain";
#endif
#if defined(CUEMU_ASAN) || defined(CUEMU_TSAN)
const bool kSingleWorker = true;
const size_t kDefaultStack = 256 * 1024;  // sanitizers need much larger frames
#else
const bool kSingleWorker = false;
const size_t kDefaultStack = 64 * 1024;
#endif

// ------------------------------------------------------------ registry
struct Entry {
  std::string name;
  void (*tramp)(void**) = nullptr;
  std::vector<int> sizes;
  std::atomic<long long> launches{0};
};

struct Registry {
  std::mutex m;
  std::vector<Entry*> list;  // never shrinks: names and pointers stay valid
  std::unordered_map<std::string, Entry*> by_name;
};
Registry& registry() {
  static Registry* r = new Registry();  // leaked on purpose: outlives every kernel lib
  return *r;
}
Entry* find_entry(const char* name) {
  if (!name) return nullptr;
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.m);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

// ------------------------------------------------------------ launch state
enum : int { kForward = 0, kReverse = 1, kRotating = 2 };

struct Launch {
  Entry* entry = nullptr;
  void (*tramp)(void**) = nullptr;
  void** args = nullptr;
  dim3 grid, block;
  size_t smem = 0;
  long long nblocks = 0;
  int nthreads = 0;
  int order = kForward;
  std::atomic<long long> next{0};
  std::atomic<bool> failed{false};
  std::mutex em;
  std::string message;
  // TSan happens-before around blocks: the scheduler releases tsan_start
  // before a block and each fiber acquires it when it starts; each fiber
  // releases tsan_end when it finishes and the scheduler acquires it after
  // the block. Two objects, so that fibers of one block get no edge from
  // each other.
  char tsan_start = 0;
  char tsan_end = 0;
};

void set_error(Launch* L, const std::string& msg) {
  std::lock_guard<std::mutex> g(L->em);
  if (!L->failed.load(std::memory_order_relaxed)) {
    L->message = msg;
    L->failed.store(true, std::memory_order_release);
  }
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

const char* base_name(const char* file) {
  if (!file) return "?";
  const char* s = strrchr(file, '/');
  return s ? s + 1 : file;
}

bool same_site(const char* f1, int l1, const char* f2, int l2) {
  return l1 == l2 && (f1 == f2 || (f1 && f2 && strcmp(f1, f2) == 0));
}
struct Fiber;
bool same_barrier(const Fiber* a, const Fiber* b);

const char* collective_name(int kind) {
  switch (kind) {
    case kSyncWarp: return "__syncwarp";
    case kShflIdx: return "__shfl_sync";
    case kShflUp: return "__shfl_up_sync";
    case kShflDown: return "__shfl_down_sync";
    case kShflXor: return "__shfl_xor_sync";
    case kBallot: return "__ballot_sync";
    case kAny: return "__any_sync";
    case kAll: return "__all_sync";
    case kReduceAddU: return "__reduce_add_sync";
    case kReduceMinU: case kReduceMinI: return "__reduce_min_sync";
    case kReduceMaxU: case kReduceMaxI: return "__reduce_max_sync";
    case kReduceAnd: return "__reduce_and_sync";
    case kReduceOr: return "__reduce_or_sync";
    case kReduceXor: return "__reduce_xor_sync";
    case kWmmaLoad: return "wmma::load_matrix_sync";
    case kWmmaStore: return "wmma::store_matrix_sync";
    case kWmmaMma: return "wmma::mma_sync";
  }
  return "collective";
}

// ------------------------------------------------------------ fibers
enum FState : unsigned char { kReady, kAtBarrier, kInCollective, kDone, kFailed };

struct Fiber {
  void* sp = nullptr;
  char* stack_lo = nullptr;  // usable stack [stack_lo, stack_lo + stack_size)
  size_t stack_size = 0;
  bool dirty = false;        // left mid-kernel: TSan needs a fresh fiber
  bool started = false;      // has run kernel code in this block
  ThreadCtx ctx;
  int linear = 0;
  FState state = kReady;
  // barrier
  const char* file = nullptr;
  int line = 0;
  int site_id = 0;  // __COUNTER__ at the call: tells two barriers on one line apart
  int bar_op = 0, bar_pred = 0, bar_result = 0;
  unsigned bar_phase = 0;  // Worker::barrier_phase at arrival
  // collective
  unsigned long long coll_result = 0;
#if defined(CUEMU_TSAN)
  void* tsan_fiber = nullptr;
#endif
  // TSan sync objects of a collective: the fiber releases tsan_arrive when it
  // arrives; the last lane acquires every member's tsan_arrive and releases
  // each member's tsan_leave, which the member acquires when it resumes. Both
  // per fiber, so that nothing a lane does after the collective (or in
  // another collective of the warp) reaches the others early.
  char tsan_arrive = 0;
  char tsan_leave = 0;
};

bool same_barrier(const Fiber* a, const Fiber* b) {
  return a->site_id == b->site_id && same_site(a->file, a->line, b->file, b->line);
}

struct Group {
  bool active = false;
  int kind = 0;
  unsigned mask = 0;
  int width = 32;
  const char* file = nullptr;
  int line = 0;
  unsigned arrived = 0;
  int first_lane = 0;
  WarpFn fn = nullptr;  // warp_exchange only
};

struct Warp {
  unsigned exist = 0;  // lanes that exist in this (possibly partial) warp
  Group groups[32];
  unsigned long long vals[32];
  int args[32];
};

struct Worker;
thread_local Worker* t_worker = nullptr;

void fiber_main(void* p);

struct Worker {
  std::vector<Fiber*> fibers;  // stacks persist across blocks and launches
  std::vector<Warp> warps;
  void* sched_sp = nullptr;
  Fiber* cur = nullptr;
  Launch* L = nullptr;
  uint3 block_idx{0, 0, 0};
  long long block_linear = 0;
  int n = 0;
  int n_ready = 0, n_barrier = 0, n_coll = 0, n_done = 0;
  bool block_failed = false;
  bool aborting = false;  // abandon_rest is resuming fibers so that they leave
  // TSan: a barrier phase's arrivals release barrier_sync[phase & 1] and its
  // leavers acquire the same object. A fiber leaves lazily (when resumed),
  // possibly after others have already arrived at the next barrier; those
  // arrivals go to the other object, so they cannot leak into it.
  unsigned barrier_phase = 0;
  char barrier_sync[2] = {0, 0};
  unsigned char* smem = nullptr;
  size_t smem_cap = 0;
  size_t stack_size = kDefaultStack;
#if defined(CUEMU_ASAN)
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
#endif
#if defined(CUEMU_TSAN)
  void* tsan_sched = nullptr;
#endif

  Worker() {
    if (const char* s = getenv("CUEMU_STACK_KB")) {
      long kb = atol(s);
      if (kb >= 16) stack_size = size_t(kb) * 1024;
    }
  }

  bool ensure_fibers(int count, std::string* err) {
    long page = sysconf(_SC_PAGESIZE);
    while ((int)fibers.size() < count) {
      size_t total = stack_size + page;
      void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (mem == MAP_FAILED) {
        *err = "cannot map fiber stacks";
        return false;
      }
      mprotect(mem, page, PROT_NONE);  // guard page below the stack
      Fiber* f = new Fiber();
      f->stack_lo = static_cast<char*>(mem) + page;
      f->stack_size = stack_size;
#if defined(CUEMU_TSAN)
      f->tsan_fiber = __tsan_create_fiber(0);
#endif
      fibers.push_back(f);
    }
    return true;
  }

  void init_fiber(Fiber* f) {
#if defined(CUEMU_ASAN)
    // Frames that never returned (an exited or abandoned fiber) leave
    // poisoned redzones behind; the stack starts clean for every block.
    __asan_unpoison_memory_region(f->stack_lo, f->stack_size);
#endif
#if defined(CUEMU_TSAN)
    // A fiber left mid-kernel never ran the __tsan_func_exit of its frames;
    // reusing its TSan fiber would grow that shadow stack without bound.
    // Called from the scheduler before any fiber of the block runs.
    if (f->dirty) {
      __tsan_destroy_fiber(f->tsan_fiber);
      f->tsan_fiber = __tsan_create_fiber(0);
    }
#endif
    f->dirty = false;
    f->started = false;
    uintptr_t top = (reinterpret_cast<uintptr_t>(f->stack_lo) + f->stack_size) & ~uintptr_t(15);
    uint64_t* s = reinterpret_cast<uint64_t*>(top) - 8;
    unsigned mxcsr;
    unsigned short fcw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fcw));
    s[0] = uint64_t(mxcsr) | (uint64_t(fcw) << 32);
    s[1] = 0;                                              // r15
    s[2] = 0;                                              // r14
    s[3] = reinterpret_cast<uint64_t>(&fiber_main);        // r13 = function
    s[4] = reinterpret_cast<uint64_t>(f);                  // r12 = argument
    s[5] = 0;                                              // rbx
    s[6] = 0;                                              // rbp
    s[7] = reinterpret_cast<uint64_t>(&cuemu_fiber_start); // return address
    f->sp = s;
    f->state = kReady;
  }

  // Scheduler -> fiber.
  void resume(Fiber* f) {
    cur = f;
    tls_ctx = &f->ctx;
#if defined(CUEMU_ASAN)
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack_lo, f->stack_size);
#endif
#if defined(CUEMU_TSAN)
    __tsan_switch_to_fiber(f->tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
    cuemu_switch(&sched_sp, f->sp);
#if defined(CUEMU_ASAN)
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    cur = nullptr;
    tls_ctx = nullptr;
  }

  // Fiber -> scheduler. With exiting, the fiber is never resumed. Not
  // instrumented: a frame that never returns must leave no poisoned redzones
  // on a stack that the next block reuses.
  CUEMU_NO_ASAN void suspend(Fiber* f, bool exiting) {
#if defined(CUEMU_ASAN)
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(exiting ? nullptr : &fake, sched_bottom, sched_size);
#else
    (void)exiting;
#endif
#if defined(CUEMU_TSAN)
    __tsan_switch_to_fiber(tsan_sched, __tsan_switch_to_fiber_no_sync);
#endif
    cuemu_switch(&f->sp, sched_sp);
#if defined(CUEMU_ASAN)
    __sanitizer_finish_switch_fiber(fake, &sched_bottom, &sched_size);
#endif
    if (aborting) leave(f);  // resumed by abandon_rest: the block has failed
  }

  // Leaves the kernel for good from a failed block. TSan: what this fiber did
  // happens before whatever runs after the block.
  [[noreturn]] CUEMU_NO_ASAN void leave(Fiber* f) {
    f->state = kFailed;
    TSAN_RELEASE(&L->tsan_end);
    suspend(f, true);
    __builtin_trap();  // never resumed
  }

  // After an error: resume each fiber stopped mid-kernel once so that it
  // leaves by itself (leave), instead of being dropped with its TSan and
  // ASan fiber state half switched.
  void abandon_rest() {
    aborting = true;
    for (int i = 0; i < n; ++i) {
      Fiber* f = fibers[i];
      if (f->started && f->state != kDone && f->state != kFailed) resume(f);
    }
    aborting = false;
  }

  std::string prefix() const {
    return fmt("cuemu: %s block (%u,%u,%u): ", L->entry->name.c_str(), block_idx.x, block_idx.y, block_idx.z);
  }

  static std::string tid(const Fiber* f) {
    return fmt("(%u,%u,%u)", f->ctx.threadIdx.x, f->ctx.threadIdx.y, f->ctx.threadIdx.z);
  }

  // Where a fiber stands, for error messages.
  std::string describe(const Fiber* f) const {
    switch (f->state) {
      case kReady: return "runnable";
      case kAtBarrier: return fmt("waits at __syncthreads %s:%d", base_name(f->file), f->line);
      case kInCollective: {
        const Warp& w = warps[f->linear / 32];
        for (const Group& g : w.groups)
          if (g.active && (g.mask >> (f->linear % 32) & 1u) && (g.arrived >> (f->linear % 32) & 1u))
            return fmt("waits in %s %s:%d (mask 0x%08x)", collective_name(g.kind), base_name(g.file), g.line, g.mask);
        return "waits in a warp collective";
      }
      case kDone: return "exited";
      case kFailed: return "failed";
    }
    return "?";
  }

  // Error raised on a fiber: record it and leave the fiber for good.
  [[noreturn]] void fail_fiber(Fiber* f, const std::string& msg) {
    set_error(L, prefix() + msg);
    block_failed = true;
    leave(f);
  }

  void fail_block(const std::string& msg) {
    set_error(L, prefix() + msg);
    block_failed = true;
  }

  void run_launch(Launch* launch) {
    L = launch;
    while (!L->failed.load(std::memory_order_acquire)) {
      long long b = L->next.fetch_add(1, std::memory_order_relaxed);
      if (b >= L->nblocks) break;
      run_block(b);
    }
    L = nullptr;
  }

  void run_block(long long b) {
    const dim3 g = L->grid, bd = L->block;
    block_linear = b;
    block_idx = uint3{unsigned(b % g.x), unsigned((b / g.x) % g.y), unsigned(b / ((long long)g.x * g.y))};
    n = L->nthreads;
    std::string err;
    if (!ensure_fibers(n, &err)) {
      fail_block(err);
      return;
    }
    // Dynamic shared memory, poisoned with 0xFF (NaN in f32/f16/bf16).
#if defined(CUEMU_ASAN)
    free(smem);  // exact size each block so that ASan's redzone sits right after it
    // 64-byte aligned like the plain build (wmma needs 32, 16-byte vector accesses 16)
    void* mem = nullptr;
    if (posix_memalign(&mem, 64, L->smem ? L->smem : 1) != 0) mem = nullptr;
    smem = static_cast<unsigned char*>(mem);
    smem_cap = L->smem;
#else
    if (smem_cap < L->smem || !smem) {
      free(smem);
      smem_cap = std::max<size_t>(L->smem, 16);
      smem = static_cast<unsigned char*>(aligned_alloc(64, (smem_cap + 63) & ~size_t(63)));
    }
#endif
    if (L->smem) memset(smem, 0xFF, L->smem);

    int nwarps = (n + 31) / 32;
    if ((int)warps.size() < nwarps) warps.resize(nwarps);
    for (int w = 0; w < nwarps; ++w) {
      int lanes = std::min(32, n - w * 32);
      warps[w].exist = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
      for (Group& gr : warps[w].groups) gr.active = false;
    }
    for (int i = 0; i < n; ++i) {
      Fiber* f = fibers[i];
      f->linear = i;
      f->ctx.threadIdx = uint3{unsigned(i % bd.x), unsigned((i / bd.x) % bd.y), unsigned(i / (bd.x * bd.y))};
      f->ctx.blockIdx = block_idx;
      f->ctx.blockDim = bd;
      f->ctx.gridDim = g;
      init_fiber(f);
    }
    n_ready = n;
    n_barrier = n_coll = n_done = 0;
    block_failed = false;
    TSAN_ACQUIRE(&L->tsan_end);
    TSAN_RELEASE(&L->tsan_start);

    long long round = 0;
    int offset = L->order == kRotating ? int(b % n) : 0;
    for (;;) {
      // One pass over the fibers in the configured order.
      for (int k = 0; k < n && n_ready > 0; ++k) {
        int i;
        if (L->order == kReverse) i = n - 1 - k;
        else if (L->order == kRotating) i = (k + offset) % n;
        else i = k;
        Fiber* f = fibers[i];
        if (f->state != kReady) continue;
        --n_ready;
        resume(f);
        if (block_failed) break;
        if (f->state == kDone) ++n_done;
      }
      if (block_failed || L->failed.load(std::memory_order_relaxed)) break;
      ++round;
      if (L->order == kRotating) offset = (offset + 13) % n;
      if (n_ready > 0) continue;
      if (n_done == n) break;
      if (n_coll > 0) {
        report_collective_deadlock();
        break;
      }
      // Every fiber is at a barrier or has exited.
      if (n_done > 0) {
        const Fiber* waiting = nullptr;
        const Fiber* exited = nullptr;
        for (int i = 0; i < n; ++i) {
          if (!waiting && fibers[i]->state == kAtBarrier) waiting = fibers[i];
          if (!exited && fibers[i]->state == kDone) exited = fibers[i];
        }
        fail_block(fmt("__syncthreads with exited threads: thread %s at %s:%d waits, thread %s exited (%d of %d threads exited)",
                       tid(waiting).c_str(), base_name(waiting->file), waiting->line, tid(exited).c_str(), n_done, n));
        break;
      }
      if (!release_barrier()) break;
    }
    if (block_failed) {
      abandon_rest();
      for (int i = 0; i < n; ++i)
        if (fibers[i]->state != kDone) fibers[i]->dirty = true;
    }
    TSAN_ACQUIRE(&L->tsan_end);
  }

  // All n fibers wait at a barrier: same call site -> release; else divergence.
  bool release_barrier() {
    const Fiber* f0 = fibers[0];
    for (int i = 1; i < n; ++i) {
      const Fiber* f = fibers[i];
      if (!same_barrier(f, f0)) {
        // Name the first thread at each distinct site (up to 4 sites).
        std::vector<const Fiber*> firsts;
        std::vector<int> counts;
        for (int j = 0; j < n; ++j) {
          const Fiber* q = fibers[j];
          size_t s = 0;
          for (; s < firsts.size(); ++s)
            if (same_barrier(q, firsts[s])) break;
          if (s == firsts.size()) {
            firsts.push_back(q);
            counts.push_back(0);
          }
          counts[s]++;
        }
        std::string m = "__syncthreads divergence: ";
        for (size_t s = 0; s < firsts.size() && s < 4; ++s) {
          if (s) m += ", ";
          m += fmt("thread %s at %s:%d", tid(firsts[s]).c_str(), base_name(firsts[s]->file), firsts[s]->line);
          for (size_t t = 0; t < firsts.size(); ++t)
            if (t != s && firsts[t]->line == firsts[s]->line && same_site(firsts[t]->file, firsts[t]->line, firsts[s]->file, firsts[s]->line)) {
              m += fmt(" (call #%d on that line)", firsts[s]->site_id);
              break;
            }
          if (counts[s] > 1) m += fmt(" (+%d more)", counts[s] - 1);
        }
        if (firsts.size() > 4) m += fmt(", and %zu more sites", firsts.size() - 4);
        fail_block(m);
        return false;
      }
    }
    int count = 0;
    for (int i = 0; i < n; ++i) count += fibers[i]->bar_pred;
    int result = 0;
    switch (f0->bar_op) {
      case kBarCount: result = count; break;
      case kBarAnd: result = count == n; break;
      case kBarOr: result = count > 0; break;
      default: break;
    }
    for (int i = 0; i < n; ++i) {
      fibers[i]->bar_result = result;
      fibers[i]->state = kReady;
    }
    ++barrier_phase;
    n_barrier = 0;
    n_ready = n;
    return true;
  }

  void report_collective_deadlock() {
    for (size_t w = 0; w < warps.size() && (int)w * 32 < n; ++w) {
      for (const Group& g : warps[w].groups) {
        if (!g.active) continue;
        unsigned missing = g.mask & ~g.arrived;
        int ml = __builtin_ctz(missing ? missing : 1u);
        const Fiber* waiter = fibers[w * 32 + g.first_lane];
        std::string m = fmt("warp %zu: %s at %s:%d with mask 0x%08x never completes: lane %d (thread %s) waits",
                            w, collective_name(g.kind), base_name(g.file), g.line, g.mask, g.first_lane,
                            tid(waiter).c_str());
        if (missing) {
          const Fiber* mf = fibers[w * 32 + ml];
          m += fmt(", lane %d (thread %s) in the mask %s", ml, tid(mf).c_str(), describe(mf).c_str());
          if (__builtin_popcount(missing) > 1) m += fmt(" (%d lanes missing)", __builtin_popcount(missing));
        }
        fail_block(m);
        return;
      }
    }
    fail_block("deadlock: no thread can make progress");
  }

  unsigned long long collective(Fiber* f, int kind, unsigned mask, unsigned long long value, int arg, int width,
                                const char* file, int line, WarpFn fn = nullptr) {
    const int lane = f->linear & 31;
    const int wi = f->linear >> 5;
    Warp& w = warps[wi];
    const unsigned bit = 1u << lane;
    if (!(mask & bit))
      fail_fiber(f, fmt("warp %d: lane %d (thread %s) calls %s at %s:%d with mask 0x%08x that excludes itself", wi,
                        lane, tid(f).c_str(), collective_name(kind), base_name(file), line, mask));
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
      fail_fiber(f, fmt("warp %d: lane %d (thread %s) calls %s at %s:%d with width %d (must be a power of two <= 32)",
                        wi, lane, tid(f).c_str(), collective_name(kind), base_name(file), line, width));
    if (fn && w.exist != 0xffffffffu)
      fail_fiber(f, fmt("warp %d: lane %d (thread %s) calls %s at %s:%d in a partial warp of %d threads (needs all 32)",
                        wi, lane, tid(f).c_str(), collective_name(kind), base_name(file), line,
                        __builtin_popcount(w.exist)));
    // Lanes that do not exist (a partial last warp) are dropped from the mask.
    const unsigned m = mask & w.exist;
    Group* g = nullptr;
    for (Group& gr : w.groups) {
      if (!gr.active || !(gr.mask & m)) continue;
      if (gr.mask != m || gr.kind != kind || gr.width != width || gr.fn != fn ||
          !same_site(gr.file, gr.line, file, line)) {
        const Fiber* other = fibers[wi * 32 + gr.first_lane];
        fail_fiber(f, fmt("warp %d: lanes disagree: lane %d (thread %s) is in %s at %s:%d with mask 0x%08x, "
                          "lane %d (thread %s) calls %s at %s:%d with mask 0x%08x",
                          wi, gr.first_lane, tid(other).c_str(), collective_name(gr.kind), base_name(gr.file),
                          gr.line, gr.mask, lane, tid(f).c_str(), collective_name(kind), base_name(file), line, m));
      }
      g = &gr;
      break;
    }
    if (!g) {
      for (Group& gr : w.groups)
        if (!gr.active) {
          g = &gr;
          break;
        }
      g->active = true;
      g->kind = kind;
      g->mask = m;
      g->width = width;
      g->file = file;
      g->line = line;
      g->arrived = 0;
      g->first_lane = lane;
      g->fn = fn;
    }
    g->arrived |= bit;
    w.vals[lane] = value;
    w.args[lane] = arg;
    TSAN_RELEASE(&f->tsan_arrive);
    if (g->arrived != g->mask) {
      f->state = kInCollective;
      ++n_coll;
      suspend(f, false);
      TSAN_ACQUIRE(&f->tsan_leave);
      return f->coll_result;
    }
    // Last lane to arrive computes everyone's result.
    complete(f, wi, *g);
    return f->coll_result;
  }

  void complete(Fiber* self, int wi, Group& g) {
    Warp& w = warps[wi];
    const unsigned m = g.mask;
#if defined(CUEMU_TSAN)
    for (int l = 0; l < 32; ++l)
      if (m >> l & 1u) TSAN_ACQUIRE(&fibers[wi * 32 + l]->tsan_arrive);
#endif
    unsigned long long red = 0;
    switch (g.kind) {
      case kBallot: case kAny: case kAll: {
        unsigned bits = 0;
        for (int l = 0; l < 32; ++l)
          if ((m >> l & 1u) && w.vals[l]) bits |= 1u << l;
        red = g.kind == kBallot ? bits : g.kind == kAny ? (bits != 0) : (bits == m);
        break;
      }
      case kReduceAddU: case kReduceMinU: case kReduceMaxU: case kReduceMinI: case kReduceMaxI:
      case kReduceAnd: case kReduceOr: case kReduceXor: {
        bool first = true;
        unsigned acc = 0;
        for (int l = 0; l < 32; ++l) {
          if (!(m >> l & 1u)) continue;
          unsigned v = unsigned(w.vals[l]);
          if (first) { acc = v; first = false; continue; }
          switch (g.kind) {
            case kReduceAddU: acc += v; break;
            case kReduceMinU: acc = std::min(acc, v); break;
            case kReduceMaxU: acc = std::max(acc, v); break;
            case kReduceMinI: acc = unsigned(std::min(int(acc), int(v))); break;
            case kReduceMaxI: acc = unsigned(std::max(int(acc), int(v))); break;
            case kReduceAnd: acc &= v; break;
            case kReduceOr: acc |= v; break;
            case kReduceXor: acc ^= v; break;
          }
        }
        red = acc;
        break;
      }
      default: break;
    }
    if (g.fn) {
      void* lanes[32];
      for (int l = 0; l < 32; ++l) lanes[l] = reinterpret_cast<void*>(uintptr_t(w.vals[l]));
      char buf[512];
      buf[0] = 0;
      if (const char* err = g.fn(lanes, buf, sizeof buf)) {
        g.active = false;  // the failure report must not read it as pending
        fail_fiber(self, fmt("warp %d: %s at %s:%d: %s", wi, collective_name(g.kind), base_name(g.file), g.line, err));
      }
    }
    const int wd = g.width;
    for (int l = 0; l < 32; ++l) {
      if (!(m >> l & 1u)) continue;
      unsigned long long r = red;
      if (g.kind >= kShflIdx && g.kind <= kShflXor) {
        const int seg = l & ~(wd - 1);
        const int a = w.args[l];
        int src = l;
        switch (g.kind) {
          case kShflIdx: src = seg + (a & (wd - 1)); break;
          case kShflUp: src = (l - seg) >= a ? l - a : l; break;
          case kShflDown: src = (l - seg) + a < wd ? l + a : l; break;
          // as PTX's shfl.bfly clamp: a lane of an earlier segment may be read, a later one not
          case kShflXor: src = (unsigned(l) ^ unsigned(a)) <= unsigned(seg + wd - 1) ? (l ^ a) : l; break;
        }
        if (src < 0 || src > 31 || !(m >> src & 1u)) {
          Fiber* lf = fibers[wi * 32 + l];
          fail_fiber(self, fmt("warp %d: %s at %s:%d: lane %d (thread %s) reads lane %d, which is not in the mask 0x%08x",
                               wi, collective_name(g.kind), base_name(g.file), g.line, l, tid(lf).c_str(), src, m));
        }
        r = w.vals[src];
      }
      Fiber* lf = fibers[wi * 32 + l];
      lf->coll_result = r;
      if (lf != self) {
        TSAN_RELEASE(&lf->tsan_leave);
        lf->state = kReady;
        --n_coll;
        ++n_ready;
      }
    }
    g.active = false;
  }
};

CUEMU_NO_ASAN void fiber_main(void* p) {
  Fiber* f = static_cast<Fiber*>(p);
  Worker* w = t_worker;
#if defined(CUEMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &w->sched_bottom, &w->sched_size);
#endif
  f->started = true;
  TSAN_ACQUIRE(&w->L->tsan_start);
  w->L->tramp(w->L->args);
  TSAN_RELEASE(&w->L->tsan_end);
  f->state = kDone;
  w->suspend(f, true);
  __builtin_trap();  // a finished fiber is never resumed
}

// ------------------------------------------------------------ worker pool
struct Pool {
  std::mutex launch_mutex;  // one launch at a time
  std::mutex m;
  std::condition_variable cv, done_cv;
  long long gen = 0;
  Launch* cur = nullptr;
  int participants = 0;  // pool threads taking part in the current launch
  int active = 0;
  int workers = 0;       // total, the calling thread included
  int threads = 0;       // pool threads started
  int order = kForward;
  Worker caller;         // used by whichever thread calls cuemu_launch
};

Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();  // leaked on purpose: detached threads use it until exit
    const char* o = getenv("CUEMU_ORDER");
    if (o) {
      if (!strcmp(o, "reverse") || !strcmp(o, "1")) q->order = kReverse;
      else if (!strcmp(o, "rotating") || !strcmp(o, "2")) q->order = kRotating;
    }
    int n = 0;
    if (const char* s = getenv("CUEMU_WORKERS")) n = atoi(s);
    if (n <= 0) n = int(std::thread::hardware_concurrency());
    if (n <= 0) n = 1;
    q->workers = kSingleWorker ? 1 : n;
    return q;
  }();
  return *p;
}

void pool_thread(int index) {
  Pool& p = pool();
  Worker* w = new Worker();
  t_worker = w;
#if defined(CUEMU_TSAN)
  w->tsan_sched = __tsan_get_current_fiber();
#endif
  long long seen = 0;
  std::unique_lock<std::mutex> lk(p.m);
  for (;;) {
    p.cv.wait(lk, [&] { return p.gen != seen; });
    seen = p.gen;
    if (index >= p.participants) continue;
    Launch* L = p.cur;
    lk.unlock();
    w->run_launch(L);
    lk.lock();
    if (--p.active == 0) p.done_cv.notify_all();
  }
}

void start_threads(Pool& p) {
  while (p.threads < p.workers - 1) {
    std::thread(pool_thread, p.threads).detach();
    p.threads++;
  }
}

int copy_error(char* error, size_t cap, const std::string& msg, int code) {
  if (error && cap > 0) {
    size_t k = std::min(cap - 1, msg.size());
    memcpy(error, msg.data(), k);
    error[k] = 0;
  }
  return code;
}


}  // namespace

// ------------------------------------------------------------ called from kernels
int barrier(const char* file, int line, int id, int op, int pred) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) return 0;
  f->file = file;
  f->line = line;
  f->site_id = id;
  f->bar_op = op;
  f->bar_pred = pred;
  f->state = kAtBarrier;
  f->bar_phase = w->barrier_phase;
  ++w->n_barrier;
  TSAN_RELEASE(&w->barrier_sync[f->bar_phase & 1]);
  w->suspend(f, false);
  TSAN_ACQUIRE(&w->barrier_sync[f->bar_phase & 1]);
  return f->bar_result;
}

unsigned long long collective(int kind, unsigned mask, unsigned long long value, int arg, int width, const char* file,
                              int line) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) return value;
  return w->collective(f, kind, mask, value, arg, width, file, line);
}

void trap(const char* file, int line) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) {
    fprintf(stderr, "cuemu: __trap() at %s:%d outside a kernel launch\n", file, line);
    abort();
  }
  w->fail_fiber(f, fmt("__trap() by thread %s at %s:%d", Worker::tid(f).c_str(), base_name(file), line));
}

void warp_exchange(int kind, void* lane_data, WarpFn fn, const char* file, int line) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) {
    fprintf(stderr, "cuemu: %s at %s:%d outside a kernel launch\n", collective_name(kind), file, line);
    abort();
  }
  w->collective(f, kind, 0xffffffffu, uintptr_t(lane_data), 0, 32, file, line, fn);
}

void kernel_error(const char* file, int line, const char* msg) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) {
    fprintf(stderr, "cuemu: %s at %s:%d outside a kernel launch\n", msg, file, line);
    abort();
  }
  w->fail_fiber(f, fmt("thread %s at %s:%d: %s", Worker::tid(f).c_str(), base_name(file), line, msg));
}

void* dynamic_smem() {
  Worker* w = t_worker;
  return w ? w->smem : nullptr;
}

void register_kernel(const char* name, void (*tramp)(void**), int nparams, const int* sizes) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.m);
  Entry*& e = r.by_name[name];
  if (!e) {
    e = new Entry();
    e->name = name;
    r.list.push_back(e);
  }
  e->tramp = tramp;
  e->sizes.assign(sizes, sizes + nparams);
}

void unregister_kernel(const char* name, void (*tramp)(void**)) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.m);
  auto it = r.by_name.find(name);
  if (it != r.by_name.end() && it->second->tramp == tramp) it->second->tramp = nullptr;
}

}  // namespace cuemu

using namespace cuemu;

// assert() in kernel code: kernel libraries are linked with
// -Wl,--wrap=__assert_fail, so a failed assert on a fiber fails the launch.
extern "C" CUEMU_API void __wrap___assert_fail(const char* expr, const char* file, unsigned line,
                                              const char* function) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) __assert_fail(expr, file, line, function);
  w->fail_fiber(f, fmt("assertion `%s` failed by thread %s at %s:%u in %s", expr, Worker::tid(f).c_str(),
                       base_name(file), line, function));
}

// ------------------------------------------------------------ C API
extern "C" {

int cuemu_kernel_count(void) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.m);
  return int(r.list.size());
}

const char* cuemu_kernel_name(int index) {
  Registry& r = registry();
  std::lock_guard<std::mutex> g(r.m);
  if (index < 0 || index >= (int)r.list.size()) return nullptr;
  return r.list[index]->name.c_str();
}

int cuemu_kernel_param_count(const char* name) {
  Entry* e = find_entry(name);
  return e ? int(e->sizes.size()) : -1;
}

int cuemu_kernel_param_size(const char* name, int param) {
  Entry* e = find_entry(name);
  if (!e || param < 0 || param >= (int)e->sizes.size()) return -1;
  return e->sizes[param];
}

long long cuemu_launch_count(const char* name) {
  Entry* e = find_entry(name);
  return e ? e->launches.load() : -1;
}

void cuemu_set_order(int order) {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.launch_mutex);
  p.order = (order == kReverse || order == kRotating) ? order : kForward;
}

int cuemu_set_workers(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.launch_mutex);
  if (kSingleWorker) return p.workers = 1;
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  if (n > 256) n = 256;
  p.workers = n;
  return n;
}

const char* cuemu_variant(void) { return kVariant; }

int cuemu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                 size_t dynamic_smem_bytes, void** args, char* error, size_t error_capacity) {
  if (error && error_capacity) error[0] = 0;
  Entry* e = find_entry(name);
  if (!e || !e->tramp)
    return copy_error(error, error_capacity, fmt("cuemu: unknown kernel '%s'", name ? name : "(null)"), 1);
  if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535)
    return copy_error(error, error_capacity,
                      fmt("cuemu: %s: invalid grid (%u,%u,%u)", e->name.c_str(), gx, gy, gz), 1);
  unsigned long long threads = (unsigned long long)bx * by * bz;
  if (bx == 0 || by == 0 || bz == 0 || threads > 1024 || bz > 64)
    return copy_error(error, error_capacity,
                      fmt("cuemu: %s: invalid block (%u,%u,%u): 1 to 1024 threads, z at most 64", e->name.c_str(),
                          bx, by, bz), 1);
  if (dynamic_smem_bytes > (size_t(256) << 20))
    return copy_error(error, error_capacity,
                      fmt("cuemu: %s: dynamic shared memory of %zu bytes is implausible", e->name.c_str(),
                          dynamic_smem_bytes), 1);
  if (!args && !e->sizes.empty())
    return copy_error(error, error_capacity, fmt("cuemu: %s: args is NULL", e->name.c_str()), 1);

  Pool& p = pool();
  std::lock_guard<std::mutex> lg(p.launch_mutex);
  e->launches.fetch_add(1);
  Launch L;
  L.entry = e;
  L.tramp = e->tramp;
  L.args = args;
  L.grid = dim3(gx, gy, gz);
  L.block = dim3(bx, by, bz);
  L.smem = dynamic_smem_bytes;
  L.nblocks = (long long)gx * gy * gz;
  L.nthreads = int(threads);
  L.order = p.order;
  TSAN_RELEASE(&L.tsan_start);

  int helpers = 0;
  {
    std::lock_guard<std::mutex> g(p.m);
    start_threads(p);
    helpers = int(std::min<long long>(p.workers - 1, L.nblocks - 1));
    if (helpers > 0) {
      p.cur = &L;
      p.participants = helpers;
      p.active = helpers;
      p.gen++;
      p.cv.notify_all();
    }
  }
  Worker* saved = t_worker;
  t_worker = &p.caller;
#if defined(CUEMU_TSAN)
  p.caller.tsan_sched = __tsan_get_current_fiber();
#endif
  p.caller.run_launch(&L);
  t_worker = saved;
  if (helpers > 0) {
    std::unique_lock<std::mutex> g(p.m);
    p.done_cv.wait(g, [&] { return p.active == 0; });
    p.cur = nullptr;
  }
  TSAN_ACQUIRE(&L.tsan_end);
  if (L.failed.load()) return copy_error(error, error_capacity, L.message, 2);
  return 0;
}

}  // extern "C"
