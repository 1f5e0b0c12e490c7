// Elementwise ops: activations and SwiGLU with their backwards, casts, biases, scaled adds,
// products, the causal mask, on the CPU.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {
namespace cpu {

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

void swiglu_forward(const Tensor& out, const Tensor& in) {
  int64_t m = out.rows(), f = out.cols();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < f; ++c)
      kernels::swiglu_element(out.data<float>(), in.data<float>(), r, c, f);
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout) {
  int64_t m = dout.rows(), f = dout.cols();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < f; ++c)
      kernels::swiglu_backward_element(din.data<float>(), in.data<float>(), dout.data<float>(), r,
                                       c, f);
}

void cast(const Tensor& out, const Tensor& in) {
  int64_t n = in.numel();
  if (in.dtype() == out.dtype()) {
    out.copy_from(in);
  } else if (in.dtype() == DType::kI32) {
    const int32_t* x = in.data<int32_t>();
    double* y = out.data<double>();
    for (int64_t i = 0; i < n; ++i) y[i] = x[i];
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

void add_bias(const Tensor& out, const Tensor& bias) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* b = bias.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += b[c];
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha) {
  int64_t n = out.numel();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for (int64_t i = 0; i < n; ++i) o[i] += alpha * x[i];
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* xv = x.data<float>();
  const float* sc = scale.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += sc[r] * xv[r * cols + c];
}

void add_row_bias(const Tensor& out, const Tensor& bias) {
  int64_t rows = out.rows(), cols = out.cols();
  float* o = out.data<float>();
  const float* b = bias.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += b[r];
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b) {
  float* o = out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) o[i] = x[i] * y[i];
}

void scale_inplace(const Tensor& x, float alpha) {
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] *= alpha;
}

void causal_mask(const Tensor& out, const Tensor& in) {
  int64_t rows = in.rows(), t = in.cols();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < t; ++j) o[r * t + j] = j <= r % t ? x[r * t + j] : 0.0f;
}

}  // namespace cpu
}  // namespace sy
