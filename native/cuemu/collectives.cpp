// cuemu warp collectives: shuffles, votes, reductions, __syncwarp and the
// wmma warp_exchange. Lanes of a warp meet in a Group (Worker::collective);
// the last lane to arrive computes every lane's result (Worker::complete).
// The overview of the runtime is at the top of runtime_internal.h.
#include "runtime_internal.h"

#include <algorithm>
#include <cstdio>

namespace cuemu {
namespace detail {

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

void Worker::report_collective_deadlock() {
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

unsigned long long Worker::collective(Fiber* f, int kind, unsigned mask, unsigned long long value, int arg,
                                      int width, const char* file, int line, WarpFn fn) {
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

void Worker::complete(Fiber* self, int wi, Group& g) {
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

}  // namespace detail

using namespace detail;

// ------------------------------------------------------------ called from kernels
unsigned long long collective(int kind, unsigned mask, unsigned long long value, int arg, int width, const char* file,
                              int line) {
  Worker* w = t_worker;
  Fiber* f = w ? w->cur : nullptr;
  if (!f) return value;
  return w->collective(f, kind, mask, value, arg, width, file, line);
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

}  // namespace cuemu
