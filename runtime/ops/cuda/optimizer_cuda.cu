// The optimizer's ops: the AdamW update and a deterministic sum of squares, on the GPU.
// AdamW: one thread per element, ops/shared/optimizer_math.h. The sum of squares is deterministic:
// a fixed grid, per-thread partials in double, summed in order on the host.
#include <cmath>
#include <vector>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/optimizer_math.h"

namespace sy {
namespace cuda {

namespace {

constexpr unsigned kPartialBlocks = 128;

__global__ void adamw_kernel(float* p, float* m, float* v, const float* g, int64_t n, float lr,
                             float b1, float b2, float eps, float wd, float bias1, float bias2) {
  SY_GRID_STRIDE(i, n)
  kernels::adamw_element(p + i, m + i, v + i, g[i], lr, b1, b2, eps, wd, bias1, bias2);
}

__global__ void sum_squares_kernel(double* partial, const float* x, int64_t n) {
  double s = 0;
  SY_GRID_STRIDE(i, n) s += static_cast<double>(x[i]) * x[i];
  partial[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

}  // namespace

void adamw_update(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& g, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t t,
                  Stream stream) {
  int64_t n = p.numel();
  if (n == 0) return;
  float bias1 = 1.0f - std::pow(beta1, static_cast<float>(t));
  float bias2 = 1.0f - std::pow(beta2, static_cast<float>(t));
  launch(adamw_kernel, n, stream, p.data<float>(), m.data<float>(), v.data<float>(),
         g.data<float>(), n, lr, beta1, beta2, eps, weight_decay, bias1, bias2);
}

double sum_squares(const Tensor& x, Stream stream) {
  int64_t n = x.numel();
  if (n == 0) return 0.0;
  // A fixed grid of kPartialBlocks blocks: one partial per thread, summed in order on the host.
  const size_t parts = size_t{kPartialBlocks} * kBlockSize;
  auto* partial = static_cast<double*>(cuda_workspace(parts * sizeof(double), stream));
  launch(sum_squares_kernel, static_cast<int64_t>(parts), stream, partial, x.data<float>(), n);
  std::vector<double> host(parts);
  SY_CUDA_CHECK(cudaMemcpyAsync(host.data(), partial, parts * sizeof(double),
                                cudaMemcpyDeviceToHost, to_cuda(stream)));
  SY_CUDA_CHECK(cudaStreamSynchronize(to_cuda(stream)));
  double s = 0;
  for (double v : host) s += v;
  return s;
}

}  // namespace cuda
}  // namespace sy
