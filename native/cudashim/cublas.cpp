// cublas.cpp — the cuBLAS subset Gatun's binding uses (bindings/.../blas/CuBlas.java), exported
// by the test-only driver shim under cublas_api.h's symbol names and signatures, so that the
// cuda device's cuBLAS path runs in CI without a GPU.
//
// cublasGemmEx is computed plainly (fp32 accumulation, as CUBLAS_COMPUTE_32F) on the shim's
// device memory, after the checks the library makes (cublasStatus_t codes) and the ones a GPU
// would make (every operand inside a live allocation, else a sticky illegal address: see
// device_work.h).
#include <cuda.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>

#include "device_work.h"

#define SHIM_API extern "C" __attribute__((visibility("default")))

namespace {

// cublas_api.h / library_types.h values (the toolkit here ships no cuBLAS headers).
enum Status : int {
  SUCCESS = 0,
  NOT_INITIALIZED = 1,
  INVALID_VALUE = 7,
  EXECUTION_FAILED = 13,
  NOT_SUPPORTED = 15,
};
constexpr int kOpN = 0, kOpT = 1;
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;
constexpr int kCompute32F = 68, kCompute32FPedantic = 69;
constexpr int kVersion = 130000;  // 13.0.0, as CUBLAS_VER_MAJOR * 10000 + minor * 100 + patch

struct Handle {
  CUstream stream = nullptr;
};

std::mutex g_mu;
std::set<Handle*> g_handles;

bool live(Handle* h) {
  std::lock_guard<std::mutex> g(g_mu);
  return g_handles.count(h) != 0;
}

size_t elem_bytes(int type) { return type == kR32F ? 4 : 2; }

float load(const void* base, int type, size_t i) {
  if (type == kR32F) return static_cast<const float*>(base)[i];
  if (type == kR16F) return float(static_cast<const _Float16*>(base)[i]);
  uint32_t bits = uint32_t(static_cast<const uint16_t*>(base)[i]) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void store(void* base, int type, size_t i, float v) {
  if (type == kR32F) {
    static_cast<float*>(base)[i] = v;
  } else if (type == kR16F) {
    static_cast<_Float16*>(base)[i] = _Float16(v);
  } else {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
      bits |= 0x00400000u;  // NaN stays a (quiet) NaN
    } else {
      bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
    }
    static_cast<uint16_t*>(base)[i] = uint16_t(bits >> 16);
  }
}

struct Gemm {
  int ta, tb, m, n, k;
  float alpha, beta;
  const void *a, *b;
  void* c;
  int type, lda, ldb, ldc;
};

// Column-major C = alpha·op(A)·op(B) + beta·C, beta == 0 ignoring C's old contents (cuBLAS does).
void run_gemm(void* arg) {
  const Gemm& g = *static_cast<const Gemm*>(arg);
  for (int j = 0; j < g.n; j++) {
    for (int i = 0; i < g.m; i++) {
      float acc = 0;
      for (int p = 0; p < g.k; p++) {
        const size_t ia = g.ta == kOpN ? size_t(p) * g.lda + i : size_t(i) * g.lda + p;
        const size_t ib = g.tb == kOpN ? size_t(j) * g.ldb + p : size_t(p) * g.ldb + j;
        acc += load(g.a, g.type, ia) * load(g.b, g.type, ib);
      }
      const size_t ic = size_t(j) * g.ldc + i;
      const float old = g.beta == 0 ? 0 : g.beta * load(g.c, g.type, ic);
      store(g.c, g.type, ic, g.alpha * acc + old);
    }
  }
}

// Bytes a column-major rows x cols operand with leading dimension ld spans (0 when empty).
size_t span(int rows, int cols, int ld, int type) {
  return rows == 0 || cols == 0 ? 0 : (size_t(ld) * (cols - 1) + rows) * elem_bytes(type);
}

}  // namespace

SHIM_API int cublasCreate_v2(Handle** out) {
  if (!out) return INVALID_VALUE;
  Handle* h = new Handle;
  std::lock_guard<std::mutex> g(g_mu);
  g_handles.insert(h);
  *out = h;
  return SUCCESS;
}

SHIM_API int cublasDestroy_v2(Handle* h) {
  std::lock_guard<std::mutex> g(g_mu);
  if (!g_handles.erase(h)) return NOT_INITIALIZED;
  delete h;
  return SUCCESS;
}

SHIM_API int cublasGetVersion_v2(Handle* h, int* version) {
  if (!live(h)) return NOT_INITIALIZED;
  if (!version) return INVALID_VALUE;
  *version = kVersion;
  return SUCCESS;
}

SHIM_API int cublasSetStream_v2(Handle* h, CUstream stream) {
  if (!live(h)) return NOT_INITIALIZED;
  std::lock_guard<std::mutex> g(g_mu);
  h->stream = stream;
  return SUCCESS;
}

SHIM_API int cublasGemmEx(Handle* h, int transa, int transb, int m, int n, int k, const void* alpha, const void* A,
                          int atype, int lda, const void* B, int btype, int ldb, const void* beta, void* C, int ctype,
                          int ldc, int compute, int algo) {
  if (!live(h)) return NOT_INITIALIZED;
  if ((transa != kOpN && transa != kOpT) || (transb != kOpN && transb != kOpT) || m < 0 || n < 0 || k < 0 || !alpha ||
      !beta)
    return INVALID_VALUE;
  const int rowsA = transa == kOpN ? m : k, colsA = transa == kOpN ? k : m;
  const int rowsB = transb == kOpN ? k : n, colsB = transb == kOpN ? n : k;
  if (lda < (rowsA > 1 ? rowsA : 1) || ldb < (rowsB > 1 ? rowsB : 1) || ldc < (m > 1 ? m : 1)) return INVALID_VALUE;
  if (atype != btype || atype != ctype || (atype != kR32F && atype != kR16F && atype != kR16BF) ||
      (compute != kCompute32F && compute != kCompute32FPedantic) || algo < -1 || algo > 23)
    return NOT_SUPPORTED;
  if (m == 0 || n == 0) return SUCCESS;
  Gemm g{transa, transb, m, n, k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta),
         A, B, C, atype, lda, ldb, ldc};
  const gatun_cudashim::DeviceRange ranges[] = {
      {CUdeviceptr(uintptr_t(A)), span(rowsA, colsA, lda, atype)},
      {CUdeviceptr(uintptr_t(B)), span(rowsB, colsB, ldb, btype)},
      {CUdeviceptr(uintptr_t(C)), span(m, n, ldc, ctype)},
  };
  const CUresult r = gatun_cudashim::run_on_device("cublasGemmEx", h->stream, ranges, 3, run_gemm, &g);
  return r == CUDA_SUCCESS ? SUCCESS : EXECUTION_FAILED;
}

SHIM_API const char* cublasGetStatusName(int status) {
  switch (status) {
    case SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

SHIM_API const char* cublasGetStatusString(int status) {
  switch (status) {
    case SUCCESS: return "success";
    case NOT_INITIALIZED: return "the library was not initialized";
    case INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case EXECUTION_FAILED: return "the GPU program failed to execute";
    case NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown error";
  }
}
