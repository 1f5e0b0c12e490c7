// LayerNorm and RMSNorm, forward and backward (parameter gradients summed over rows in order), on
// the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/norm_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/norm_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void layernorm_kernel(float* out, float* mean, float* rstd, const float* x,
                                 const float* g, const float* b, int64_t rows, int64_t n,
                                 float eps) {
  SY_GRID_STRIDE(r, rows)
  kernels::layernorm_row(out + r * n, mean + r, rstd + r, x + r * n, g, b, n, eps);
}

__global__ void layernorm_backward_kernel(float* dx, const float* dy, const float* x,
                                          const float* mean, const float* rstd, const float* g,
                                          int64_t rows, int64_t n) {
  SY_GRID_STRIDE(r, rows)
  kernels::layernorm_backward_row(dx + r * n, dy + r * n, x + r * n, mean[r], rstd[r], g, n);
}

__global__ void rmsnorm_kernel(float* out, float* rstd, const float* x, const float* g,
                               int64_t rows, int64_t n, float eps) {
  SY_GRID_STRIDE(r, rows) kernels::rmsnorm_row(out + r * n, rstd + r, x + r * n, g, n, eps);
}

__global__ void rmsnorm_backward_kernel(float* dx, const float* dy, const float* x,
                                        const float* rstd, const float* g, int64_t rows,
                                        int64_t n) {
  SY_GRID_STRIDE(r, rows)
  kernels::rmsnorm_backward_row(dx + r * n, dy + r * n, x + r * n, rstd[r], g, n);
}

__global__ void norm_param_kernel(float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* mean, const float* rstd, int64_t rows, int64_t n) {
  SY_GRID_STRIDE(c, n)
  kernels::norm_param_grad_column(dgamma, dbeta, dy, x, mean, rstd, rows, n, c);
}

}  // namespace

void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps, Stream stream) {
  launch(layernorm_kernel, in.rows(), stream, out.data<float>(), mean.data<float>(),
         rstd.data<float>(), in.data<float>(), gamma.data<float>(), beta.data<float>(), in.rows(),
         in.cols(), eps);
}

void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma, Stream stream) {
  launch(layernorm_backward_kernel, in.rows(), stream, din.data<float>(), dout.data<float>(),
         in.data<float>(), mean.data<float>(), rstd.data<float>(), gamma.data<float>(), in.rows(),
         in.cols());
  launch(norm_param_kernel, in.cols(), stream, dgamma.data<float>(), dbeta.data<float>(),
         dout.data<float>(), in.data<float>(), mean.data<float>(), rstd.data<float>(), in.rows(),
         in.cols());
}

void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps, Stream stream) {
  launch(rmsnorm_kernel, in.rows(), stream, out.data<float>(), rstd.data<float>(), in.data<float>(),
         gamma.data<float>(), in.rows(), in.cols(), eps);
}

void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma, Stream stream) {
  launch(rmsnorm_backward_kernel, in.rows(), stream, din.data<float>(), dout.data<float>(),
         in.data<float>(), rstd.data<float>(), gamma.data<float>(), in.rows(), in.cols());
  launch(norm_param_kernel, in.cols(), stream, dgamma.data<float>(), static_cast<float*>(nullptr),
         dout.data<float>(), in.data<float>(), static_cast<const float*>(nullptr),
         rstd.data<float>(), in.rows(), in.cols());
}

}  // namespace cuda
}  // namespace sy
