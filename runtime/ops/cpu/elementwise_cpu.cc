// Elementwise ops: activations and SwiGLU with their backwards, casts, biases, scaled adds,
// products, the causal mask, on the CPU.
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {
namespace cpu {

namespace {

template <typename T, Activation A>
void activation_forward_typed(const Tensor& out, const Tensor& in) {
  const int64_t n = in.numel();
  T* y = out.data<T>();
  const T* x = in.data<T>();
  for (int64_t i = 0; i < n; ++i) kernels::activation_element<T, A>(y, x, i);
}

template <typename T, Activation A>
void activation_backward_typed(const Tensor& din, const Tensor& in, const Tensor& dout) {
  const int64_t n = in.numel();
  T* dx = din.data<T>();
  const T* x = in.data<T>();
  const T* dy = dout.data<T>();
  for (int64_t i = 0; i < n; ++i) kernels::activation_backward_element<T, A>(dx, x, dy, i);
}

}  // namespace

void activation_forward(const Tensor& out, const Tensor& in, Activation act) {
  with_float_type(in.dtype(), [&](auto tag) {
    kernels::with_activation(
        act, [&](auto a) { activation_forward_typed<decltype(tag), decltype(a)::value>(out, in); });
  });
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act) {
  with_float_type(in.dtype(), [&](auto tag) {
    kernels::with_activation(act, [&](auto a) {
      activation_backward_typed<decltype(tag), decltype(a)::value>(din, in, dout);
    });
  });
}

void swiglu_forward(const Tensor& out, const Tensor& in) {
  const int64_t m = out.rows(), f = out.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    const T* x = in.data<T>();
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < f; ++c) kernels::swiglu_element(y, x, r, c, f);
  });
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout) {
  const int64_t m = dout.rows(), f = dout.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* dx = din.data<T>();
    const T* x = in.data<T>();
    const T* dy = dout.data<T>();
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < f; ++c) kernels::swiglu_backward_element(dx, x, dy, r, c, f);
  });
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
  const int64_t n = out.numel(), cols = out.cols();
  const float* b = bias.data<float>();
  with_float_type(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) kernels::add_bias_element(o, b, i, cols);
  });
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

void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s) {
  const float inv = 1.0f / *s.data<float>();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for (int64_t i = 0; i < in.numel(); ++i) o[i] = x[i] * inv;
}

void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s) {
  const float sv = *s.data<float>(), inv = 1.0f / sv;
  const float *dy = dout.data<float>(), *x = in.data<float>();
  float* dx = din.data<float>();
  double dot = 0;
  for (int64_t i = 0; i < in.numel(); ++i) {
    dot += static_cast<double>(dy[i]) * x[i];
    dx[i] = dy[i] * inv;  // after the read of dy[i]: din may alias dout
  }
  kernels::inverse_scale_grad(ds.data<float>(), dot, sv);
}

void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse) {
  const int64_t half = x.dim(2) / 2, pairs = x.numel() / 2, t = x.dim(1);
  float* yp = y.data<float>();
  const float *xp = x.data<float>(), *tp = table.data<float>();
  for (int64_t i = 0; i < pairs; ++i) kernels::rope_pair(yp, xp, tp, i, t, half, inverse);
}

void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq) {
  const int64_t cols = x.dim(1);
  for (int64_t i = 0; i < x.numel(); ++i)
    kernels::sine_element(y.data<float>(), x.data<float>(), freq.data<float>(), i, cols);
}

void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq) {
  const int64_t cols = x.dim(1);
  for (int64_t i = 0; i < x.numel(); ++i)
    kernels::sine_backward_element(dx.data<float>(), dfx.data<float>(), x.data<float>(),
                                   dy.data<float>(), freq.data<float>(), i, cols);
}

void causal_mask(const Tensor& out, const Tensor& in) {
  const int64_t n = in.numel(), t = in.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* x = in.data<T>();
    for (int64_t i = 0; i < n; ++i) kernels::causal_mask_element(o, x, i, t);
  });
}

}  // namespace cpu
}  // namespace sy
