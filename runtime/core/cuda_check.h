// Checks for CUDA and cuBLAS results, and the kernel launch idiom (in .cu files); include only
// where CUDA is built.
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
// tables, sort histograms). Reuse is safe because work on one stream runs in order; growing never
// frees (no device-wide synchronisation in the middle of a pass).
void* cuda_workspace(size_t bytes, Stream stream);

// Threads per block of every kernel launch.
constexpr unsigned int kBlockSize = 256;

inline unsigned int grid_for(size_t n, unsigned int block) {
  size_t g = (n + block - 1) / block;
  return static_cast<unsigned int>(g < 65535u * 16u ? (g ? g : 1) : 65535u * 16u);
}

#if defined(__CUDACC__)
// The one launch idiom: `kernel` over n threads (kBlockSize per block; kernels loop grid-stride,
// so the grid may be capped) on `stream`, and the launch checked. Nothing happens for n ≤ 0.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), int64_t n, Stream stream, Args... args) {
  if (n <= 0) return;
  kernel<<<grid_for(static_cast<size_t>(n), kBlockSize), kBlockSize, 0, to_cuda(stream)>>>(args...);
  SY_CUDA_LAUNCH_CHECK();
}
#endif

}  // namespace sy
