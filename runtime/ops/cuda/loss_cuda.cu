// Cross-entropy over the vocabulary, forward and backward (ignored targets < 0), on the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/loss_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/loss_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void ce_kernel(float* losses, const float* l, const int32_t* t, int64_t rows,
                          int64_t v) {
  SY_GRID_STRIDE(r, rows) losses[r] = kernels::cross_entropy_row(l + r * v, t[r], v);
}

__global__ void ce_backward_kernel(float* dl, const float* l, const int32_t* t, const float* dloss,
                                   int64_t rows, int64_t v) {
  SY_GRID_STRIDE(r, rows)
  kernels::cross_entropy_backward_row(dl + r * v, l + r * v, t[r], dloss[r], v);
}

}  // namespace

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream) {
  launch(ce_kernel, logits.rows(), stream, losses.data<float>(), logits.data<float>(),
         targets.data<int32_t>(), logits.rows(), logits.cols());
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream) {
  launch(ce_backward_kernel, logits.rows(), stream, dlogits.data<float>(), logits.data<float>(),
         targets.data<int32_t>(), dloss.data<float>(), logits.rows(), logits.cols());
}

}  // namespace cuda
}  // namespace sy
