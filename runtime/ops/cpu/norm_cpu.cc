// Norms, cross-entropy and the embedding gradient on the CPU, through the shared row functions.
#include <vector>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/norm_math.h"

namespace sy {
namespace cpu {

void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps) {
  int64_t rows = in.rows(), n = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::layernorm_row(out.data<float>() + r * n, mean.data<float>() + r,
                           rstd.data<float>() + r, in.data<float>() + r * n, gamma.data<float>(),
                           beta.data<float>(), n, eps);
}

void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma) {
  int64_t rows = in.rows(), n = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::layernorm_backward_row(din.data<float>() + r * n, dout.data<float>() + r * n,
                                    in.data<float>() + r * n, mean.data<float>()[r],
                                    rstd.data<float>()[r], gamma.data<float>(), n);
  for (int64_t c = 0; c < n; ++c)
    kernels::norm_param_grad_column(dgamma.data<float>(), dbeta.data<float>(), dout.data<float>(),
                                    in.data<float>(), mean.data<float>(), rstd.data<float>(), rows,
                                    n, c);
}

void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps) {
  int64_t rows = in.rows(), n = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::rmsnorm_row(out.data<float>() + r * n, rstd.data<float>() + r,
                         in.data<float>() + r * n, gamma.data<float>(), n, eps);
}

void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma) {
  int64_t rows = in.rows(), n = in.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::rmsnorm_backward_row(din.data<float>() + r * n, dout.data<float>() + r * n,
                                  in.data<float>() + r * n, rstd.data<float>()[r],
                                  gamma.data<float>(), n);
  for (int64_t c = 0; c < n; ++c)
    kernels::norm_param_grad_column(dgamma.data<float>(), nullptr, dout.data<float>(),
                                    in.data<float>(), nullptr, rstd.data<float>(), rows, n, c);
}

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets) {
  int64_t rows = logits.rows(), v = logits.cols();
  for (int64_t r = 0; r < rows; ++r)
    losses.data<float>()[r] =
        kernels::cross_entropy_row(logits.data<float>() + r * v, targets.data<int32_t>()[r], v);
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss) {
  int64_t rows = logits.rows(), v = logits.cols();
  for (int64_t r = 0; r < rows; ++r)
    kernels::cross_entropy_backward_row(dlogits.data<float>() + r * v, logits.data<float>() + r * v,
                                        targets.data<int32_t>()[r], dloss.data<float>()[r], v);
}

void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids) {
  int64_t n = ids.numel(), vocab = dtable.dim(0), cols = dtable.cols();
  Tensor order = Tensor::empty({n}, DType::kI32), counts = Tensor::empty({vocab}, DType::kI32);
  cpu::counting_sort(order, counts, ids, static_cast<int>(vocab));
  std::vector<int32_t> offsets(static_cast<size_t>(vocab) + 1, 0);
  for (int64_t v = 0; v < vocab; ++v) offsets[v + 1] = offsets[v] + counts.data<int32_t>()[v];
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t c = 0; c < cols; ++c)
      kernels::embedding_grad_element(dtable.data<float>(), dout.data<float>(),
                                      order.data<int32_t>(), offsets.data(), v, c, cols);
}

}  // namespace cpu
}  // namespace sy
