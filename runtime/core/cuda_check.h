// Checks for CUDA and cuBLAS results; include only from CUDA translation units.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "runtime/core/backend.h"
#include "runtime/core/error.h"

#define SY_CUDA_CHECK(call)                                               \
  do {                                                                    \
    cudaError_t sy_cuda_rc_ = (call);                                     \
    if (sy_cuda_rc_ != cudaSuccess)                                       \
      SY_THROW(#call " failed: " << cudaGetErrorName(sy_cuda_rc_) << ": " \
                                 << cudaGetErrorString(sy_cuda_rc_));     \
  } while (0)

#define SY_CUBLAS_CHECK(call)                                                  \
  do {                                                                         \
    cublasStatus_t sy_cublas_rc_ = (call);                                     \
    if (sy_cublas_rc_ != CUBLAS_STATUS_SUCCESS)                                \
      SY_THROW(#call " failed: " << cublasGetStatusName(sy_cublas_rc_) << ": " \
                                 << cublasGetStatusString(sy_cublas_rc_));     \
  } while (0)

// A grid-stride loop: index i runs over [0, n) across all threads of the launch.
#define SY_GRID_STRIDE(i, n)                                                \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// Launches `kernel` over n threads (256 per block, grid-stride) on the variable `stream` of the
// enclosing function, and checks the launch; nothing happens for n = 0.
#define SY_LAUNCH(kernel, n, ...)                                                       \
  do {                                                                                  \
    if ((n) > 0) {                                                                      \
      kernel<<<::sy::grid_for((n), 256), 256, 0, ::sy::to_cuda(stream)>>>(__VA_ARGS__); \
      SY_CUDA_LAUNCH_CHECK();                                                           \
    }                                                                                   \
  } while (0)

// Checks a kernel launch (configuration errors surface here; faults surface at the next sync).
#define SY_CUDA_LAUNCH_CHECK() SY_CUDA_CHECK(cudaGetLastError())

namespace sy {

inline cudaStream_t to_cuda(Stream s) {
  return static_cast<cudaStream_t>(s.handle);
}
inline cudaEvent_t to_cuda(Event e) {
  return static_cast<cudaEvent_t>(e.handle);
}

// The cuBLAS handle of the current device, bound to `stream`. Created once per device.
cublasHandle_t cublas_handle(Stream stream);

// A grow-only device scratch buffer per stream, for small per-call arrays (grouped-GEMM pointer
// tables, sort histograms). Reuse is safe because work on one stream runs in order.
void* cuda_workspace(size_t bytes, Stream stream);

inline unsigned int grid_for(size_t n, unsigned int block) {
  size_t g = (n + block - 1) / block;
  return static_cast<unsigned int>(g < 65535u * 16u ? (g ? g : 1) : 65535u * 16u);
}

}  // namespace sy
