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
//
// Files (native/build.sh compiles every native/cuemu/*.cpp once per variant):
//   runtime_internal.h  this overview and the declarations the runtime files
//                       share: variant constants, Entry, Launch, Fiber, Group,
//                       Warp, Worker with its per-switch resume/suspend/leave
//   scheduler.cpp       Worker's fiber and block machinery: stacks, run_block,
//                       barriers, error reporting; fiber_main; the functions
//                       kernels call except the warp collectives
//   collectives.cpp     warp shuffles, votes, reductions and warp_exchange:
//                       Worker::collective/complete, their deadlock report
//   api.cpp             kernel registry, worker pool and the C API (cuemu.h)
//   switch.S            the fiber context switch
//
// The shared internals live in cuemu::detail, whose visibility is hidden:
// libcuemu*.so export only cuemu.h's C API and what prelude.h declares.
#pragma once

#include "cuemu.h"
#include "prelude.h"

// The kernel-facing spellings are macros; the runtime uses the field names.
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
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

// A Worker helper with a single caller, in the same file: always inlined there,
// as the compiler did while the runtime was one file with internal linkage
// (a hidden member function is otherwise kept out of line).
#define CUEMU_INLINE inline __attribute__((always_inline))

extern "C" void cuemu_switch(void** save_sp, void* new_sp);
extern "C" void cuemu_fiber_start();

namespace cuemu {
namespace detail __attribute__((visibility("hidden"))) {

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
// One registered kernel (api.cpp keeps the registry).
struct Entry {
  std::string name;
  void (*tramp)(void**) = nullptr;
  std::vector<int> sizes;
  std::atomic<long long> launches{0};
};

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

// Helpers for error messages (scheduler.cpp, collectives.cpp).
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
const char* base_name(const char* file);
const char* collective_name(int kind);

inline bool same_site(const char* f1, int l1, const char* f2, int l2) {
  return l1 == l2 && (f1 == f2 || (f1 && f2 && strcmp(f1, f2) == 0));
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

inline bool same_barrier(const Fiber* a, const Fiber* b) {
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
// The worker of this OS thread (defined in scheduler.cpp). __thread, like
// tls_ctx, so that reading it from another file needs no TLS init wrapper.
extern __thread Worker* t_worker;

void fiber_main(void* p);  // scheduler.cpp

// One worker OS thread: runs blocks of a launch, one at a time, each CUDA
// thread a fiber. Resume, suspend and leave switch fibers and stay here,
// inline; the rest is defined in scheduler.cpp and collectives.cpp.
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

  // scheduler.cpp: fibers, blocks, barriers; the CUEMU_INLINE ones are run_block's helpers
  CUEMU_INLINE bool ensure_fibers(int count, std::string* err);
  CUEMU_INLINE void init_fiber(Fiber* f);
  CUEMU_INLINE void abandon_rest();
  void run_launch(Launch* launch);
  void run_block(long long b);
  CUEMU_INLINE bool release_barrier();
  // scheduler.cpp: errors
  std::string prefix() const;
  static std::string tid(const Fiber* f);
  std::string describe(const Fiber* f) const;
  [[noreturn]] void fail_fiber(Fiber* f, const std::string& msg);
  void fail_block(const std::string& msg);

  // collectives.cpp: warp collectives; complete is collective's helper
  unsigned long long collective(Fiber* f, int kind, unsigned mask, unsigned long long value, int arg, int width,
                                const char* file, int line, WarpFn fn = nullptr);
  CUEMU_INLINE void complete(Fiber* self, int wi, Group& g);
  void report_collective_deadlock();
};

}  // namespace detail
}  // namespace cuemu
