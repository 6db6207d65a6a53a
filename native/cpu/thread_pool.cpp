#include "thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gatun_cpu.h"

#pragma GCC visibility push(hidden)
namespace GATUN_NS {
namespace {

struct Pool {
  std::mutex call_mu;  // held for a whole parallel region (and while resizing)
  std::mutex mu;       // guards the job fields and gen for sleeping workers
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  std::atomic<int> nthreads{0};  // 0 = not started yet; read without locks
  bool stop = false;

  // current job
  Task fn = nullptr;
  void* ctx = nullptr;
  long long n = 0, grain = 1;
  int want = 0;  // workers (not counting the caller) taking part
  std::atomic<long long> next{0};
  std::atomic<int> remaining{0};
  std::atomic<unsigned long long> gen{0};

  void run_chunks() {
    for (;;) {
      long long b = next.fetch_add(grain, std::memory_order_relaxed);
      if (b >= n) return;
      fn(ctx, b, b + grain < n ? b + grain : n);
    }
  }

  void worker(int idx) {
    unsigned long long seen = 0;
    for (;;) {
      // Spin briefly so back-to-back calls skip the futex wake-up; then sleep.
      for (int k = 0; k < 4000 && gen.load(std::memory_order_acquire) == seen; ++k) _mm_pause();
      {
        std::unique_lock<std::mutex> l(mu);
        wake.wait(l, [&] { return stop || gen.load(std::memory_order_relaxed) != seen; });
        if (stop) return;
        seen = gen.load(std::memory_order_relaxed);
        if (idx > want) continue;
      }
      run_chunks();
      if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> l(mu);
        done.notify_all();
      }
    }
  }

  // call_mu held
  void resize(int t) {
    if (t <= 0) t = (int)std::thread::hardware_concurrency();
    if (t <= 0) t = 1;
    if (t > 256) t = 256;
    if (t == nthreads) return;
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    wake.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
    stop = false;
    nthreads.store(t);
    for (int i = 1; i < t; ++i) workers.emplace_back([this, i] { worker(i); });
  }
};

// Never destroyed: workers may still be blocked in wait() while the process exits.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

void parallel_for(long long n, long long grain, Task fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  Pool& p = pool();
  std::unique_lock<std::mutex> region(p.call_mu, std::try_to_lock);
  if (!region.owns_lock() || n <= grain) {  // busy or too small: run here
    fn(ctx, 0, n);
    return;
  }
  if (p.nthreads == 0) p.resize(0);
  long long chunks = (n + grain - 1) / grain;
  const int nt = p.nthreads.load();
  int want = (int)(chunks - 1 < nt - 1 ? chunks - 1 : nt - 1);
  if (want <= 0) {
    fn(ctx, 0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> l(p.mu);
    p.fn = fn;
    p.ctx = ctx;
    p.n = n;
    p.grain = grain;
    p.want = want;
    p.next.store(0, std::memory_order_relaxed);
    p.remaining.store(want, std::memory_order_relaxed);
    p.gen.fetch_add(1, std::memory_order_release);
  }
  p.wake.notify_all();
  p.run_chunks();
  for (int k = 0; k < 20000 && p.remaining.load(std::memory_order_acquire) != 0; ++k) _mm_pause();
  if (p.remaining.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> l(p.mu);
    p.done.wait(l, [&] { return p.remaining.load(std::memory_order_acquire) == 0; });
  }
}

int pool_set_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> region(p.call_mu);
  p.resize(n);
  return p.nthreads.load();
}

// Lock-free so it can be asked from inside a task or while another region runs.
int pool_threads() {
  Pool& p = pool();
  int t = p.nthreads.load();
  if (t > 0) return t;
  t = (int)std::thread::hardware_concurrency();  // what the lazy start will pick
  return t > 0 ? (t > 256 ? 256 : t) : 1;
}

}  // namespace GATUN_NS
#pragma GCC visibility pop

extern "C" int gatun_cpu_set_threads(int n) { return GATUN_NS::pool_set_threads(n); }
extern "C" int gatun_cpu_threads(void) { return GATUN_NS::pool_threads(); }
