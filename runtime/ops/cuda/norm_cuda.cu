// Norms, cross-entropy and the embedding gradient on the GPU: one thread per row (or per column
// for the parameter gradients, per element for the embedding), running the shared functions.
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

__global__ void ce_kernel(float* losses, const float* l, const int32_t* t, int64_t rows,
                          int64_t v) {
  SY_GRID_STRIDE(r, rows) losses[r] = kernels::cross_entropy_row(l + r * v, t[r], v);
}

__global__ void ce_backward_kernel(float* dl, const float* l, const int32_t* t, const float* dloss,
                                   int64_t rows, int64_t v) {
  SY_GRID_STRIDE(r, rows)
  kernels::cross_entropy_backward_row(dl + r * v, l + r * v, t[r], dloss[r], v);
}

__global__ void offsets_kernel(int32_t* offsets, const int32_t* counts, int64_t vocab) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  offsets[0] = 0;
  for (int64_t v = 0; v < vocab; ++v) offsets[v + 1] = offsets[v] + counts[v];
}

__global__ void embedding_grad_kernel(float* dtable, const float* dout, const int32_t* order,
                                      const int32_t* offsets, int64_t vocab, int64_t cols) {
  SY_GRID_STRIDE(t, vocab * cols)
  kernels::embedding_grad_element(dtable, dout, order, offsets, t / cols, t % cols, cols);
}

}  // namespace

void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps, Stream stream) {
  SY_LAUNCH(layernorm_kernel, in.rows(), out.data<float>(), mean.data<float>(), rstd.data<float>(),
            in.data<float>(), gamma.data<float>(), beta.data<float>(), in.rows(), in.cols(), eps);
}

void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma, Stream stream) {
  SY_LAUNCH(layernorm_backward_kernel, in.rows(), din.data<float>(), dout.data<float>(),
            in.data<float>(), mean.data<float>(), rstd.data<float>(), gamma.data<float>(),
            in.rows(), in.cols());
  SY_LAUNCH(norm_param_kernel, in.cols(), dgamma.data<float>(), dbeta.data<float>(),
            dout.data<float>(), in.data<float>(), mean.data<float>(), rstd.data<float>(), in.rows(),
            in.cols());
}

void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps, Stream stream) {
  SY_LAUNCH(rmsnorm_kernel, in.rows(), out.data<float>(), rstd.data<float>(), in.data<float>(),
            gamma.data<float>(), in.rows(), in.cols(), eps);
}

void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma, Stream stream) {
  SY_LAUNCH(rmsnorm_backward_kernel, in.rows(), din.data<float>(), dout.data<float>(),
            in.data<float>(), rstd.data<float>(), gamma.data<float>(), in.rows(), in.cols());
  SY_LAUNCH(norm_param_kernel, in.cols(), dgamma.data<float>(), static_cast<float*>(nullptr),
            dout.data<float>(), in.data<float>(), static_cast<const float*>(nullptr),
            rstd.data<float>(), in.rows(), in.cols());
}

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream) {
  SY_LAUNCH(ce_kernel, logits.rows(), losses.data<float>(), logits.data<float>(),
            targets.data<int32_t>(), logits.rows(), logits.cols());
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream) {
  SY_LAUNCH(ce_backward_kernel, logits.rows(), dlogits.data<float>(), logits.data<float>(),
            targets.data<int32_t>(), dloss.data<float>(), logits.rows(), logits.cols());
}

void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids,
                        Stream stream) {
  int64_t n = ids.numel(), vocab = dtable.dim(0), cols = dtable.cols();
  Device d = ids.device();
  Tensor order = Tensor::empty({n}, DType::kI32, d),
         counts = Tensor::empty({vocab}, DType::kI32, d);
  Tensor offsets = Tensor::empty({vocab + 1}, DType::kI32, d);
  cuda::counting_sort(order, counts, ids, static_cast<int>(vocab), stream);
  offsets_kernel<<<1, 1, 0, to_cuda(stream)>>>(offsets.data<int32_t>(), counts.data<int32_t>(),
                                               vocab);
  SY_CUDA_LAUNCH_CHECK();
  SY_LAUNCH(embedding_grad_kernel, vocab * cols, dtable.data<float>(), dout.data<float>(),
            order.data<int32_t>(), offsets.data<int32_t>(), vocab, cols);
}

}  // namespace cuda
}  // namespace sy
