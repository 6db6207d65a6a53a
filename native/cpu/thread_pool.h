// A small persistent thread pool: the caller plus (threads - 1) workers share chunks of [0, n).
// Which thread runs a chunk never changes results: kernels give each row a fixed reduction order.
#ifndef GATUN_CPU_THREAD_POOL_H
#define GATUN_CPU_THREAD_POOL_H

#include "vec.h"  // GATUN_NS

#pragma GCC visibility push(hidden)
namespace GATUN_NS {

using Task = void (*)(void* ctx, long long begin, long long end);

// Runs fn over [0, n) in chunks of `grain`. One parallel region at a time: a call made while
// another is running (another JVM thread, or from inside a task) runs inline on its caller.
void parallel_for(long long n, long long grain, Task fn, void* ctx);
int pool_set_threads(int n);  // 0 = hardware threads
int pool_threads();

// Convenience: f(begin, end) on [0, n).
template <class F>
void parallel_for(long long n, long long grain, F& f) {
  parallel_for(n, grain, [](void* c, long long b, long long e) { (*static_cast<F*>(c))(b, e); }, &f);
}

}  // namespace GATUN_NS
#pragma GCC visibility pop
#endif
