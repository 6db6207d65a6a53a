// host_device.h — GATUN_HOST_DEVICE marks the few definitions that the kernels (nvcc and the
// cuemu build) and the cpu device (native/cpu, plain g++) share, so that every device computes
// them with the same code.
#pragma once

#if defined(__CUDACC__) || defined(__device__)
#define GATUN_HOST_DEVICE __host__ __device__
#else
#define GATUN_HOST_DEVICE
#endif
