// device_work.h — how the shim's other libraries (the cuBLAS subset in cublas.cpp) run work on
// device memory under the driver shim's rules. Internal to libgatun_cudashim.so (not exported).
#pragma once

#include <cuda.h>

#include <cstddef>

namespace gatun_cudashim {

// [ptr, ptr + bytes) of device memory that a piece of work reads or writes.
struct DeviceRange {
  CUdeviceptr ptr;
  size_t bytes;
};

// Under the shim's lock, with the checks of a kernel launch: a current, unpoisoned context and a
// live stream (else that CUresult), every range inside one live allocation (else
// CUDA_ERROR_ILLEGAL_ADDRESS, sticky, as a faulting kernel would be). Then runs work(arg) in the
// calling thread, which is stream order here (every operation runs at submission), and counts it
// under the stat "library_calls".
CUresult run_on_device(const char* call, CUstream stream, const DeviceRange* ranges, size_t count, void (*work)(void*),
                       void* arg);

// The detail the last failure recorded for the calling thread (gatun_cudashim_last_error).
const char* last_error();

}  // namespace gatun_cudashim
