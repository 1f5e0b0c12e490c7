// LayerNorm and RMSNorm, forward and backward (parameter gradients summed over rows in order), on
// the CPU: rows (and the parameter gradients' columns) split over threads, each computed whole by
// one.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/norm_math.h"

namespace sy {
namespace cpu {

void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps) {
  const int64_t n = in.cols();
  for_row_chunks(in.rows(), n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::layernorm_row(out.data<float>() + r * n, mean.data<float>() + r,
                             rstd.data<float>() + r, in.data<float>() + r * n, gamma.data<float>(),
                             beta.data<float>(), n, eps);
  });
}

void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma) {
  const int64_t rows = in.rows(), n = in.cols();
  for_row_chunks(rows, n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::layernorm_backward_row(din.data<float>() + r * n, dout.data<float>() + r * n,
                                      in.data<float>() + r * n, mean.data<float>()[r],
                                      rstd.data<float>()[r], gamma.data<float>(), n);
  });
  for_row_chunks(n, rows, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      kernels::norm_param_grad_column(dgamma.data<float>(), dbeta.data<float>(), dout.data<float>(),
                                      in.data<float>(), mean.data<float>(), rstd.data<float>(),
                                      rows, n, c);
  });
}

void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps) {
  const int64_t n = in.cols();
  for_row_chunks(in.rows(), n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::rmsnorm_row(out.data<float>() + r * n, rstd.data<float>() + r,
                           in.data<float>() + r * n, gamma.data<float>(), n, eps);
  });
}

void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma) {
  const int64_t rows = in.rows(), n = in.cols();
  for_row_chunks(rows, n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      kernels::rmsnorm_backward_row(din.data<float>() + r * n, dout.data<float>() + r * n,
                                    in.data<float>() + r * n, rstd.data<float>()[r],
                                    gamma.data<float>(), n);
  });
  for_row_chunks(n, rows, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      kernels::norm_param_grad_column(dgamma.data<float>(), nullptr, dout.data<float>(),
                                      in.data<float>(), nullptr, rstd.data<float>(), rows, n, c);
  });
}

}  // namespace cpu
}  // namespace sy
