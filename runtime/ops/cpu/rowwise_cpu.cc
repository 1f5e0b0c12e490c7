// Row-wise and elementwise ops on the CPU: each calls the shared per-row function of
// ops/shared/rowwise_math.h that the CUDA kernel calls too.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/rowwise_math.h"

namespace sy {
namespace cpu {

void softmax_forward(const Tensor& out, const Tensor& in) {
  int64_t r = in.rows(), n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for (int64_t i = 0; i < r; ++i) kernels::softmax_row(y + i * n, x + i * n, n);
}

void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout) {
  int64_t r = out.rows(), n = out.cols();
  for (int64_t i = 0; i < r; ++i)
    kernels::softmax_backward_row(din.data<float>() + i * n, out.data<float>() + i * n,
                                  dout.data<float>() + i * n, n);
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k) {
  int64_t r = in.rows(), n = in.cols();
  for (int64_t i = 0; i < r; ++i)
    kernels::topk_row(values.data<float>() + i * k, indices.data<int32_t>() + i * k,
                      in.data<float>() + i * n, n, k);
}

void activation_forward(const Tensor& out, const Tensor& in, Activation act) {
  int64_t n = in.numel();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  if (act == Activation::kGelu)
    for (int64_t i = 0; i < n; ++i) y[i] = kernels::gelu(x[i]);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = kernels::silu(x[i]);
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act) {
  int64_t n = in.numel();
  const float* x = in.data<float>();
  const float* dy = dout.data<float>();
  float* dx = din.data<float>();
  if (act == Activation::kGelu)
    for (int64_t i = 0; i < n; ++i) dx[i] = kernels::gelu_grad(x[i]) * dy[i];
  else
    for (int64_t i = 0; i < n; ++i) dx[i] = kernels::silu_grad(x[i]) * dy[i];
}

void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op) {
  int64_t r = in.rows(), n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for (int64_t i = 0; i < r; ++i)
    y[i] = op == ReduceOp::kSum ? kernels::reduce_sum_strided(x + i * n, n, 1)
                                : kernels::reduce_max_strided(x + i * n, n, 1);
}

void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op) {
  int64_t r = in.rows(), n = in.cols();
  const float* x = in.data<float>();
  float* y = out.data<float>();
  for (int64_t j = 0; j < n; ++j)
    y[j] = op == ReduceOp::kSum ? kernels::reduce_sum_strided(x + j, r, n)
                                : kernels::reduce_max_strided(x + j, r, n);
}

void cast(const Tensor& out, const Tensor& in) {
  int64_t n = in.numel();
  if (in.dtype() == out.dtype()) {
    out.copy_from(in);
  } else if (in.dtype() == DType::kF32) {
    const float* x = in.data<float>();
    bf16* y = out.data<bf16>();
    for (int64_t i = 0; i < n; ++i) y[i] = float_to_bf16(x[i]);
  } else {
    const bf16* x = in.data<bf16>();
    float* y = out.data<float>();
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(x[i]);
  }
}

}  // namespace cpu
}  // namespace sy
