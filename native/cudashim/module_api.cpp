// module_api.cpp — the test-only CUDA driver shim's modules, functions and launches
// (cuModuleLoadDataEx, cuModuleUnload, cuModuleGetFunction, cuFuncGetAttribute,
// cuFuncSetAttribute, cuLaunchKernel), exported under cuda.h's names and signatures, and
// device_work.h's run_on_device and last_error, with which the shim's other libraries
// (cublas.cpp) run work under a launch's checks. The overview of the shim and its shared state
// are in shim_state.h.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "../cuemu/cuemu.h"
#include "device_work.h"
#include "image.h"
#include "shim_state.h"

using namespace gatun_cudashim::detail;

namespace {

int regs_rounded(int regs) { return std::max(8, (regs + 7) / 8 * 8); }

// Registers are allocated per warp, in units of 8 per thread (256 per warp).
int max_threads(const Resources& r) {
  const int warps = kRegsPerBlock / (regs_rounded(r.regs) * 32);
  return std::min(kMaxThreadsPerBlock, warps * 32);
}

int default_max_dynamic(const Resources& r) { return std::max(0, kDefaultSmemPerBlock - r.smem); }

// Writes msg into the JIT log buffer options of cuModuleLoadDataEx, if given.
void write_jit_log(unsigned n, CUjit_option* options, void** values, CUjit_option buf_opt, CUjit_option size_opt,
                   const std::string& msg) {
  if (!options || !values) return;
  char* buf = nullptr;
  size_t cap = 0;
  int size_index = -1;
  for (unsigned i = 0; i < n; i++) {
    if (options[i] == buf_opt) buf = static_cast<char*>(values[i]);
    if (options[i] == size_opt) {
      cap = size_t(reinterpret_cast<uintptr_t>(values[i]));
      size_index = int(i);
    }
  }
  if (!buf || cap == 0) return;
  size_t w = std::min(cap - 1, msg.size());
  std::memcpy(buf, msg.data(), w);
  buf[w] = 0;
  if (size_index >= 0) values[size_index] = reinterpret_cast<void*>(uintptr_t(w));
}

}  // namespace

// ------------------------------------------------------------------ modules, functions
SHIM_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                     CUjit_option* options, void** optionValues) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuModuleLoadDataEx";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!module || !image) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "module or image is NULL");
  if (numOptions > 0 && (!options || !optionValues))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call, "numOptions > 0 with NULL options or values");
  cudashim::ImageInfo info = cudashim::parse_image(image, s.ptx_jit);
  if (!info.runnable) {
    const std::string msg = "gatun cuda shim: " + info.error;
    write_jit_log(numOptions, options, optionValues, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, msg);
    return fail(s, CUresult(info.code), call, info.error);
  }
  write_jit_log(numOptions, options, optionValues, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, "");
  write_jit_log(numOptions, options, optionValues, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                "gatun cuda shim: loaded " + info.archs + "; kernels run on cuemu");
  Module* m = new Module;
  m->entries = std::move(info.entries);
  m->names_known = info.names_known;
  m->archs = info.archs;
  s.modules.insert(m);
  *module = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuModuleUnload(CUmodule h) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuModuleUnload")) return r;
  auto it = s.modules.find(reinterpret_cast<Module*>(h));
  if (it == s.modules.end())
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload", fmt("module %p is not loaded", (void*)h));
  for (auto& [name, f] : (*it)->funcs) {
    s.funcs.erase(f);
    delete f;
  }
  delete *it;
  s.modules.erase(it);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuModuleGetFunction";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!hfunc || !name) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "hfunc or name is NULL");
  auto it = s.modules.find(reinterpret_cast<Module*>(hmod));
  if (it == s.modules.end()) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("module %p is not loaded", (void*)hmod));
  Module* m = *it;
  auto known = m->funcs.find(name);
  if (known != m->funcs.end()) {
    *hfunc = reinterpret_cast<CUfunction>(known->second);
    return CUDA_SUCCESS;
  }
  if (m->names_known && !m->entries.count(name)) {
    std::string list;
    for (const auto& e : m->entries) list += (list.empty() ? "" : ", ") + e;
    return fail(s, CUDA_ERROR_NOT_FOUND, call, fmt("'%s' is not an entry of the module (", name) + list + ")");
  }
  const int nparams = cuemu_kernel_param_count(name);
  if (nparams < 0)
    return fail(s, CUDA_ERROR_NOT_FOUND, call,
                fmt("'%s': no emu build of this kernel is registered with cuemu (load the kernel library "
                    "before the shim)",
                    name));
  ensure_resources(s);
  Func* f = new Func;
  f->mod = m;
  f->name = name;
  auto r = s.res.find(name);
  if (r != s.res.end()) f->res = r->second;
  f->max_dynamic = default_max_dynamic(f->res);
  for (int i = 0; i < nparams; i++) f->sizes.push_back(cuemu_kernel_param_size(name, i));
  m->funcs[name] = f;
  s.funcs.insert(f);
  *hfunc = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuFuncGetAttribute";
  if (CUresult r = need_ctx(s, call)) return r;
  if (!pi) return fail(s, CUDA_ERROR_INVALID_VALUE, call, "pi is NULL");
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f)) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("function %p is not live", (void*)hfunc));
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = max_threads(f->res); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = f->res.smem; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = f->res.stack; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = f->res.regs; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = 0; break;
    default: return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("attribute %d", int(attrib)));
  }
  return CUDA_SUCCESS;
}

SHIM_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  const char* call = "cuFuncSetAttribute";
  if (CUresult r = need_ctx(s, call)) return r;
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f)) return fail(s, CUDA_ERROR_INVALID_HANDLE, call, fmt("function %p is not live", (void*)hfunc));
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: {
      const int limit = kOptinSmemPerBlock - f->res.smem;
      if (value < 0 || value > limit)
        return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                    fmt("%s: MAX_DYNAMIC_SHARED_SIZE_BYTES %d exceeds %d (227 KiB opt-in minus %d bytes static)",
                        f->name.c_str(), value, limit, f->res.smem));
      f->max_dynamic = value;
      return CUDA_SUCCESS;
    }
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100)
        return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("%s: carveout %d", f->name.c_str(), value));
      f->carveout = value;
      return CUDA_SUCCESS;
    default:
      return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                  fmt("%s: attribute %d cannot be set (the shim supports MAX_DYNAMIC_SHARED_SIZE_BYTES and "
                      "PREFERRED_SHARED_MEMORY_CARVEOUT)",
                      f->name.c_str(), int(attrib)));
  }
}

SHIM_API CUresult cuLaunchKernel(CUfunction hfunc, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                 unsigned int by, unsigned int bz, unsigned int smem, CUstream st, void** params,
                                 void** extra) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, "cuLaunchKernel")) return r;
  Func* f = reinterpret_cast<Func*>(hfunc);
  if (!s.funcs.count(f))
    return fail(s, CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel", fmt("function %p is not live", (void*)hfunc));
  const std::string callname = "cuLaunchKernel(" + f->name + ")";
  const char* call = callname.c_str();
  if (CUresult r = check_stream(s, call, st)) return r;
  if (extra && extra[0] != CU_LAUNCH_PARAM_END)
    return fail(s, CUDA_ERROR_NOT_SUPPORTED, call, "the shim takes kernelParams only, not extra");
  if (s.sticky_launch > 0 && --s.sticky_launch == 0)
    return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, "injected sticky failure (sticky_launch)");
  if (s.fail_launch > 0 && --s.fail_launch == 0)
    return fail(s, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, call, "injected failure (fail_launch)");
  const unsigned long long threads = (unsigned long long)bx * by * bz;
  if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || threads > kMaxThreadsPerBlock)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("block (%u,%u,%u): 1 to 1024 threads, x and y at most 1024, z at most 64", bx, by, bz));
  if (gx == 0 || gy == 0 || gz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("grid (%u,%u,%u): x 1 to 2^31-1, y and z 1 to 65535", gx, gy, gz));
  if (smem > unsigned(f->max_dynamic))
    return fail(s, CUDA_ERROR_INVALID_VALUE, call,
                fmt("%u bytes of dynamic shared memory exceed the function's limit of %d (default 48 KiB minus "
                    "%d static; raise it with cuFuncSetAttribute MAX_DYNAMIC_SHARED_SIZE_BYTES, at most 227 KiB)",
                    smem, f->max_dynamic, f->res.smem));
  if ((long long)threads > max_threads(f->res)) {
    const int rr = regs_rounded(f->res.regs);
    return fail(s, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, call,
                fmt("%llu threads x %d registers (ptxas sm_90a: %d%s) = %llu > %d registers per block; at most %d "
                    "threads",
                    threads, rr, f->res.regs, f->res.known ? "" : ", unknown: default", threads * rr, kRegsPerBlock,
                    max_threads(f->res)));
  }
  if (!f->sizes.empty() && !params)
    return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("kernelParams is NULL, the kernel takes %zu", f->sizes.size()));
  for (size_t i = 0; i < f->sizes.size(); i++) {
    if (!params[i]) return fail(s, CUDA_ERROR_INVALID_VALUE, call, fmt("kernelParams[%zu] is NULL", i));
    if (f->sizes[i] != 8) continue;
    uint64_t v;
    std::memcpy(&v, params[i], 8);
    if (!in_pool(s, uintptr_t(v))) continue;  // an integer or a host pointer, not device memory
    if (!find_alloc(s, uintptr_t(v), 0))
      return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, fmt("parameter %zu: ", i) + describe_bad(s, uintptr_t(v), 0));
  }
  char err[1024];
  const int rc = cuemu_launch(f->name.c_str(), gx, gy, gz, bx, by, bz, smem, params, err, sizeof err);
  if (rc == 1) return fail(s, CUDA_ERROR_INVALID_VALUE, call, err);
  if (rc != 0) {
    const bool assertion = std::strstr(err, "assertion") != nullptr;
    return poison(s, assertion ? CUDA_ERROR_ASSERT : CUDA_ERROR_LAUNCH_FAILED, call, err);
  }
  s.n_launches++;
  return CUDA_SUCCESS;
}

// ================================================================== work of the shim's other libraries
CUresult gatun_cudashim::run_on_device(const char* call, CUstream stream, const DeviceRange* ranges, size_t count,
                                       void (*work)(void*), void* arg) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  if (CUresult r = need_ctx(s, call)) return r;
  if (CUresult r = check_stream(s, call, stream)) return r;
  for (size_t i = 0; i < count; i++) {
    const uintptr_t p = uintptr_t(ranges[i].ptr);
    if (ranges[i].bytes && !find_alloc(s, p, ranges[i].bytes))
      return poison(s, CUDA_ERROR_ILLEGAL_ADDRESS, call, fmt("operand %zu: ", i) + describe_bad(s, p, ranges[i].bytes));
  }
  work(arg);
  s.n_library_calls++;
  return CUDA_SUCCESS;
}

const char* gatun_cudashim::last_error() { return t_detail.c_str(); }
