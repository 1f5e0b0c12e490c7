#include "runtime/ops/cuda/deterministic_sum.cuh"

#include "runtime/core/cuda_check.h"

namespace sy {
namespace cuda {

namespace {

constexpr unsigned kPartialBlocks = 128;

// partial[t] = Σ over thread t's grid-stride elements of a[i]·b[i].
__global__ void partial_dots(double* partial, const float* a, const float* b, int64_t n) {
  double s = 0;
  SY_GRID_STRIDE(i, n) s += static_cast<double>(a[i]) * b[i];
  partial[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// *out = the partials' sum: thread t adds t, t + kBlockSize, … in order, then a fixed tree.
__global__ void sum_partials(double* out, const double* partial, int64_t parts) {
  __shared__ double acc[kBlockSize];
  double s = 0;
  for (int64_t i = threadIdx.x; i < parts; i += blockDim.x) s += partial[i];
  acc[threadIdx.x] = s;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) acc[threadIdx.x] += acc[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = acc[0];
}

}  // namespace

void device_dot(double* out, const float* a, const float* b, int64_t n, Stream stream) {
  const size_t parts = size_t{kPartialBlocks} * kBlockSize;
  auto* partial = static_cast<double*>(cuda_workspace(parts * sizeof(double), stream));
  launch(partial_dots, static_cast<int64_t>(parts), stream, partial, a, b, n);
  sum_partials<<<1, kBlockSize, 0, to_cuda(stream)>>>(out, partial, static_cast<int64_t>(parts));
  SY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace cuda
}  // namespace sy
