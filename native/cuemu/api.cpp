// cuemu C API (cuemu.h): the kernel registry that kernel libraries fill
// (register_kernel), the worker pool that runs a launch's blocks on several
// OS threads, and the exported cuemu_* functions.
// The overview of the runtime is at the top of runtime_internal.h.
#include "runtime_internal.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <thread>
#include <unordered_map>

namespace cuemu {

using namespace detail;

namespace {

// ------------------------------------------------------------ registry
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

// ------------------------------------------------------------ called from kernel libraries
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
using namespace cuemu::detail;

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
