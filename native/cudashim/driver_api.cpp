// driver_api.cpp — the test-only CUDA driver shim's device, context, memory, stream and event
// entry points (cuInit ... cuEventDestroy_v2), exported under cuda.h's names and signatures.
// The overview of the shim and its shared state are in shim_state.h; modules and launches are
// in module_api.cpp.
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "shim_state.h"

// cuda.h maps cuEventElapsedTime to cuEventElapsedTime_v2; the shim exports both.
#undef cuEventElapsedTime

using namespace gatun_cudashim::detail;

namespace {

// The primary context's handle.
struct CtxObj {
  int magic = 0x6761746e;
};
CtxObj g_ctx_obj;
CUcontext ctx_handle() { return reinterpret_cast<CUcontext>(&g_ctx_obj); }

// Shared body of the copies and memsets.
CUresult check_dev(State& s, const char* call, const char* what, CUdeviceptr p, size_t n) {
  if (find_alloc(s, uintptr_t(p), n)) return CUDA_SUCCESS;
  return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s ", what) + describe_bad(s, uintptr_t(p), n));
}

CUresult check_host(State& s, const char* call, const char* what, const void* p, size_t n) {
  if (!p) return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s host pointer is NULL (%zu bytes)", what, n));
  if (in_pool(s, uintptr_t(p)))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("%s host pointer 0x%llx is a device pointer", what, (unsigned long long)uintptr_t(p)));
  return CUDA_SUCCESS;
}

CUresult memcpy_htod(const char* call, CUdeviceptr dst, const void* src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  if (CUresult r = check_host(s, call, "source", src, n)) return r;
  std::memcpy(reinterpret_cast<void*>(dst), src, n);
  return CUDA_SUCCESS;
}

CUresult memcpy_dtoh(const char* call, void* dst, CUdeviceptr src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "source", src, n)) return r;
  if (CUresult r = check_host(s, call, "destination", dst, n)) return r;
  std::memcpy(dst, reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult memcpy_dtod(const char* call, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  if (CUresult r = check_dev(s, call, "source", src, n)) return r;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult memset_d8(const char* call, CUdeviceptr dst, unsigned char v, size_t n, CUstream st, bool async) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (async)
    if (CUresult r = check_stream(s, call, st)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = check_dev(s, call, "destination", dst, n)) return r;
  std::memset(reinterpret_cast<void*>(dst), v, n);
  return CUDA_SUCCESS;
}

}  // namespace

// ================================================================== driver API
SHIM_API CUresult cuInit(unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (flags != 0) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuInit", fmt("flags %u (must be 0)", flags));
  apply_env(s);
  s.initialized = true;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDriverGetVersion(int* version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = kDriverVersion;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetCount(int* count) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuDeviceGetCount")) return r;
  if (!count) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetCount", "count is NULL");
  *count = 1;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuDeviceGet")) return r;
  if (!device) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGet", "device is NULL");
  if (ordinal != 0) return fail(s, CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet", fmt("ordinal %d (one device)", ordinal));
  *device = 0;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceGetName", dev)) return r;
  if (!name || len <= 0) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetName", "name is NULL or len <= 0");
  std::snprintf(name, size_t(len), "%s", kDeviceName);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceGetAttribute", dev)) return r;
  if (!pi) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute", "pi is NULL");
  if (int(attrib) < 1 || int(attrib) >= int(CU_DEVICE_ATTRIBUTE_MAX))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute", fmt("attribute %d", int(attrib)));
  int v = 0;
  switch (attrib) {
    // H100 SXM5 80GB (GH100, 132 SMs), as the CUDA 13 driver reports it.
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = kDefaultSmemPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = kRegsPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = 1980000; break;  // kHz
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: v = 512; break;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = 132; break;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: v = CU_COMPUTEMODE_DEFAULT; break;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: v = 512; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = 0x18; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = 2619000; break;  // kHz
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: v = 2048; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: v = 3; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: v = 228 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: v = 2; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: v = kOptinSmemPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: v = 32 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: v = 134213632; break;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: v = 4; break;
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: v = -1; break;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: v = -1; break;
    default: v = 0; break;  // texture/surface limits and features the shim does not model
  }
  *pi = v;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_device(s, "cuDeviceTotalMem_v2", dev)) return r;
  if (!bytes) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuDeviceTotalMem_v2", "bytes is NULL");
  *bytes = s.pool_bytes;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuDevicePrimaryCtxRetain";
  if (CUresult r = need_device(s, call, dev)) return r;
  if (!pctx) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pctx is NULL");
  if (s.refcount > 0 && s.sticky != CUDA_SUCCESS)
    return fail(s, s.sticky, call,
                "the primary context is poisoned; release every reference to reset it: " + s.sticky_detail);
  s.refcount++;
  *pctx = ctx_handle();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuDevicePrimaryCtxRelease_v2";
  if (CUresult r = need_device(s, call, dev)) return r;
  if (s.refcount == 0) return fail(s, CUDA_ERROR_INVALID_CONTEXT, call, "the primary context is not retained");
  if (--s.refcount == 0) destroy_context(s);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxSetCurrent(CUcontext ctx) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuCtxSetCurrent")) return r;
  if (ctx != nullptr && ctx != ctx_handle())
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent", fmt("%p is not the primary context", (void*)ctx));
  if (ctx != nullptr && s.refcount == 0)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent", "the primary context has been released");
  t_current = ctx;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxGetDevice(CUdevice* device) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_init(s, "cuCtxGetDevice")) return r;
  if (!device) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuCtxGetDevice", "device is NULL");
  if (!t_current || s.refcount == 0)
    return fail(s, CUDA_ERROR_INVALID_CONTEXT, "cuCtxGetDevice", "no current context on this thread");
  *device = 0;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuCtxSynchronize(void) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  return need_ctx(s, "cuCtxSynchronize");
}

// ------------------------------------------------------------------ memory
SHIM_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuMemAlloc_v2";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!dptr) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "dptr is NULL");
  if (bytesize == 0) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "bytesize is 0");
  if (s.fail_alloc > 0 && --s.fail_alloc == 0)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: injected failure (fail_alloc)", bytesize));
  if (!reserve(s)) return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, "cannot reserve the device address range");
  s.any_alloc = true;
  const size_t mapped = round_up(bytesize, s.page);
  if (bytesize > s.pool_bytes || mapped > s.pool_bytes - s.committed)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call,
                fmt("%zu bytes requested, %zu of %zu bytes free", bytesize, s.pool_bytes - s.committed, s.pool_bytes));
  const size_t span = mapped + s.page;  // and a guard page
  uintptr_t p = find_gap(s, s.cursor, span);
  if (!p) p = find_gap(s, s.rbase, span);
  if (!p) return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: device address range fragmented", bytesize));
  if (mprotect(reinterpret_cast<void*>(p), mapped, PROT_READ | PROT_WRITE) != 0)
    return fail(s, CUDA_ERROR_OUT_OF_MEMORY, call, fmt("%zu bytes: mprotect failed: %s", bytesize, std::strerror(errno)));
  if (s.poison) std::memset(reinterpret_cast<void*>(p), 0xFF, mapped);
  s.cursor = p + span;
  s.allocs[p] = Alloc{bytesize, mapped};
  // The range is live again: forget what was freed there.
  s.freed.erase(s.freed.lower_bound(p), s.freed.lower_bound(p + span));
  s.committed += mapped;
  s.live_bytes += bytesize;
  s.n_allocs++;
  *dptr = CUdeviceptr(p);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuMemFree_v2";
  if (CUresult r = need_ctx(s, call)) return r;
  if (dptr == 0) return CUDA_SUCCESS;  // as the driver: freeing NULL is a no-op
  auto it = s.allocs.find(uintptr_t(dptr));
  if (it == s.allocs.end()) {
    auto ft = s.freed.find(uintptr_t(dptr));
    if (ft != s.freed.end())
      return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                  fmt("double free of 0x%llx (%zu bytes, freed before)", (unsigned long long)dptr, ft->second));
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("0x%llx is not the start of a live allocation: ", (unsigned long long)dptr) +
                    describe_bad(s, uintptr_t(dptr), 0));
  }
  unmap_range(it->first, it->second.mapped);
  remember_freed(s, it->first, it->second.size);
  s.committed -= it->second.mapped;
  s.live_bytes -= it->second.size;
  s.allocs.erase(it);
  s.n_frees++;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuMemGetInfo_v2")) return r;
  if (!free || !total) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuMemGetInfo_v2", "free or total is NULL");
  *free = s.pool_bytes - s.committed;
  *total = s.pool_bytes;
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char uc, size_t n) {
  return memset_d8("cuMemsetD8_v2", dst, uc, n, nullptr, false);
}
SHIM_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char uc, size_t n, CUstream st) {
  return memset_d8("cuMemsetD8Async", dst, uc, n, st, true);
}
SHIM_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  return memcpy_htod("cuMemcpyHtoD_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  return memcpy_dtoh("cuMemcpyDtoH_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return memcpy_dtod("cuMemcpyDtoD_v2", dst, src, n, nullptr, false);
}
SHIM_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream st) {
  return memcpy_htod("cuMemcpyHtoDAsync_v2", dst, src, n, st, true);
}
SHIM_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream st) {
  return memcpy_dtoh("cuMemcpyDtoHAsync_v2", dst, src, n, st, true);
}
SHIM_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream st) {
  return memcpy_dtod("cuMemcpyDtoDAsync_v2", dst, src, n, st, true);
}

// ------------------------------------------------------------------ streams, events
SHIM_API CUresult cuStreamCreate(CUstream* phStream, unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamCreate")) return r;
  if (!phStream) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", "phStream is NULL");
  if (flags & ~unsigned(CU_STREAM_NON_BLOCKING))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", fmt("flags 0x%x", flags));
  Stream* st = new Stream{flags};
  s.streams.insert(st);
  *phStream = reinterpret_cast<CUstream>(st);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuStreamDestroy_v2(CUstream h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamDestroy_v2")) return r;
  auto it = s.streams.find(reinterpret_cast<Stream*>(h));
  if (it == s.streams.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy_v2", fmt("stream %p is not a live stream", (void*)h));
  delete *it;
  s.streams.erase(it);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuStreamSynchronize(CUstream h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuStreamSynchronize")) return r;
  return check_stream(s, "cuStreamSynchronize", h);  // work ran at submission
}

SHIM_API CUresult cuEventCreate(CUevent* phEvent, unsigned int flags) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventCreate")) return r;
  if (!phEvent) return fail(s, CUDA_ERROR_INVALID_VALUE, "cuEventCreate", "phEvent is NULL");
  const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if ((flags & ~known) || ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)))
    return fail(s, CUDA_ERROR_INVALID_VALUE, "cuEventCreate", fmt("flags 0x%x", flags));
  Event* e = new Event{flags, false, Clock::time_point()};
  s.events.insert(e);
  *phEvent = reinterpret_cast<CUevent>(e);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventRecord(CUevent h, CUstream st) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventRecord")) return r;
  auto it = s.events.find(reinterpret_cast<Event*>(h));
  if (it == s.events.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventRecord", fmt("event %p is not a live event", (void*)h));
  if (CUresult r = check_stream(s, "cuEventRecord", st)) return r;
  (*it)->recorded = true;
  (*it)->t = Clock::now();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventSynchronize(CUevent h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventSynchronize")) return r;
  if (!s.events.count(reinterpret_cast<Event*>(h)))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize", fmt("event %p is not a live event", (void*)h));
  return CUDA_SUCCESS;
}

static CUresult elapsed(const char* call, float* ms, CUevent start, CUevent end) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (!ms) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pMilliseconds is NULL");
  Event* a = reinterpret_cast<Event*>(start);
  Event* b = reinterpret_cast<Event*>(end);
  if (!s.events.count(a) || !s.events.count(b))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "start or end is not a live event");
  if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "an event was created with CU_EVENT_DISABLE_TIMING");
  if (!a->recorded || !b->recorded)
    return fail(s, CUDA_ERROR_INVALID_HANDLE, call, "an event has not been recorded");
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return elapsed("cuEventElapsedTime", ms, start, end);
}
SHIM_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  return elapsed("cuEventElapsedTime_v2", ms, start, end);
}

SHIM_API CUresult cuEventDestroy_v2(CUevent h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuEventDestroy_v2")) return r;
  auto it = s.events.find(reinterpret_cast<Event*>(h));
  if (it == s.events.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy_v2", fmt("event %p is not a live event", (void*)h));
  delete *it;
  s.events.erase(it);
  return CUDA_SUCCESS;
}
