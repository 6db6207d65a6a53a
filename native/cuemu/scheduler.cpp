// cuemu scheduler: Worker's fiber and block machinery (fiber stacks,
// run_launch/run_block, __syncthreads barriers, error reporting), fiber_main,
// and the functions kernels call except the warp collectives (collectives.cpp).
// The overview of the runtime is at the top of runtime_internal.h.
#include "runtime_internal.h"

#include <assert.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace cuemu {

__thread ThreadCtx* tls_ctx = nullptr;

namespace detail {

__thread Worker* t_worker = nullptr;

namespace {

void set_error(Launch* L, const std::string& msg) {
  std::lock_guard<std::mutex> g(L->em);
  if (!L->failed.load(std::memory_order_relaxed)) {
    L->message = msg;
    L->failed.store(true, std::memory_order_release);
  }
}

}  // namespace

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

// ------------------------------------------------------------ fibers
bool Worker::ensure_fibers(int count, std::string* err) {
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

void Worker::init_fiber(Fiber* f) {
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

// After an error: resume each fiber stopped mid-kernel once so that it
// leaves by itself (leave), instead of being dropped with its TSan and
// ASan fiber state half switched.
void Worker::abandon_rest() {
  aborting = true;
  for (int i = 0; i < n; ++i) {
    Fiber* f = fibers[i];
    if (f->started && f->state != kDone && f->state != kFailed) resume(f);
  }
  aborting = false;
}

// ------------------------------------------------------------ errors
std::string Worker::prefix() const {
  return fmt("cuemu: %s block (%u,%u,%u): ", L->entry->name.c_str(), block_idx.x, block_idx.y, block_idx.z);
}

std::string Worker::tid(const Fiber* f) {
  return fmt("(%u,%u,%u)", f->ctx.threadIdx.x, f->ctx.threadIdx.y, f->ctx.threadIdx.z);
}

// Where a fiber stands, for error messages.
std::string Worker::describe(const Fiber* f) const {
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
[[noreturn]] void Worker::fail_fiber(Fiber* f, const std::string& msg) {
  set_error(L, prefix() + msg);
  block_failed = true;
  leave(f);
}

void Worker::fail_block(const std::string& msg) {
  set_error(L, prefix() + msg);
  block_failed = true;
}

// ------------------------------------------------------------ blocks and barriers
void Worker::run_launch(Launch* launch) {
  L = launch;
  while (!L->failed.load(std::memory_order_acquire)) {
    long long b = L->next.fetch_add(1, std::memory_order_relaxed);
    if (b >= L->nblocks) break;
    run_block(b);
  }
  L = nullptr;
}

void Worker::run_block(long long b) {
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
bool Worker::release_barrier() {
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

}  // namespace detail

using namespace detail;

// ------------------------------------------------------------ called from kernels
// (the warp collectives, collective() and warp_exchange(), are in collectives.cpp)
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

void trap(const char* file, int line) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) {
    fprintf(stderr, "cuemu: __trap() at %s:%d outside a kernel launch\n", file, line);
    abort();
  }
  w->fail_fiber(f, fmt("__trap() by thread %s at %s:%d", Worker::tid(f).c_str(), base_name(file), line));
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

}  // namespace cuemu

using namespace cuemu;
using namespace cuemu::detail;

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
