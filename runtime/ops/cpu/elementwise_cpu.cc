// Elementwise ops: activations and SwiGLU with their backwards, casts, biases, scaled adds,
// products, the causal mask, on the CPU — threaded and vectorised (vectorized.h).
#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {
namespace cpu {

namespace {

template <typename T, Activation A>
void activation_forward_typed(const Tensor& out, const Tensor& in) {
  T* y = out.data<T>();
  const T* x = in.data<T>();
  for_elements(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::activation_element<T, A>(y, x, i);
  });
}

template <typename T, Activation A>
void bias_activation_typed(const Tensor& out, const Tensor& h, const Tensor& bias) {
  T* y = out.data<T>();
  T* hp = h.data<T>();
  const float* b = bias.data<float>();
  const int64_t cols = h.cols();
  for_elements(h.numel(), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) kernels::bias_activation_element<T, A>(y, hp, b, i, cols);
  });
}

template <typename T, Activation A>
void activation_backward_typed(const Tensor& din, const Tensor& in, const Tensor& dout) {
  T* dx = din.data<T>();
  const T* x = in.data<T>();
  const T* dy = dout.data<T>();
  for_elements(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::activation_backward_element<T, A>(dx, x, dy, i);
  });
}

// i32 → f64, exact.
void widen_ints(const Tensor& out, const Tensor& in) {
  const int32_t* x = in.data<int32_t>();
  double* y = out.data<double>();
  for_elements(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i];
  });
}

// f32 ↔ bf16 through the shared load/store (round to nearest even).
template <typename From, typename To>
void convert(const Tensor& out, const Tensor& in) {
  const From* x = in.data<From>();
  To* y = out.data<To>();
  for_elements(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = store_as<To>(load_float(x[i]));
  });
}

}  // namespace

void activation_forward(const Tensor& out, const Tensor& in, Activation act) {
  with_float_type(in.dtype(), [&](auto tag) {
    kernels::with_activation(
        act, [&](auto a) { activation_forward_typed<decltype(tag), decltype(a)::value>(out, in); });
  });
}

void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias,
                             Activation act) {
  with_float_type(h.dtype(), [&](auto tag) {
    kernels::with_activation(act, [&](auto a) {
      bias_activation_typed<decltype(tag), decltype(a)::value>(out, h, bias);
    });
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
  const int64_t f = out.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    const T* x = in.data<T>();
    for_row_chunks(out.rows(), f, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < f; ++c) kernels::swiglu_element(y, x, r, c, f);
    });
  });
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout) {
  const int64_t f = dout.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* dx = din.data<T>();
    const T* x = in.data<T>();
    const T* dy = dout.data<T>();
    for_row_chunks(dout.rows(), f, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < f; ++c) kernels::swiglu_backward_element(dx, x, dy, r, c, f);
    });
  });
}

void cast(const Tensor& out, const Tensor& in) {
  if (in.dtype() == out.dtype())
    out.copy_from(in);
  else if (in.dtype() == DType::kI32)
    widen_ints(out, in);
  else if (in.dtype() == DType::kF32)
    convert<float, bf16>(out, in);
  else
    convert<bf16, float>(out, in);
}

void add_bias(const Tensor& out, const Tensor& bias) {
  const int64_t cols = out.cols();
  const float* bv = bias.data<float>();
  with_float_type(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    for_row_chunks(out.rows(), cols, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < cols; ++c) kernels::add_bias_element(o, bv, r * cols + c, cols);
    });
  });
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha) {
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for_elements(out.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] += alpha * x[i];
  });
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale) {
  const int64_t cols = out.cols();
  float* o = out.data<float>();
  const float* xv = x.data<float>();
  const float* sc = scale.data<float>();
  for_row_chunks(out.rows(), cols, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += sc[r] * xv[r * cols + c];
  });
}

void add_row_bias(const Tensor& out, const Tensor& bias) {
  const int64_t cols = out.cols();
  float* o = out.data<float>();
  const float* bv = bias.data<float>();
  for_row_chunks(out.rows(), cols, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t c = 0; c < cols; ++c) o[r * cols + c] += bv[r];
  });
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b) {
  float* o = out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for_elements(out.numel(), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) o[i] = x[i] * y[i];
  });
}

void scale_inplace(const Tensor& x, float alpha) {
  float* p = x.data<float>();
  for_elements(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] *= alpha;
  });
}

void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s) {
  const float inv = 1.0f / *s.data<float>();
  float* o = out.data<float>();
  const float* x = in.data<float>();
  for_elements(in.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = x[i] * inv;
  });
}

void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s) {
  const float sv = *s.data<float>(), inv = 1.0f / sv;
  const float *dy = dout.data<float>(), *x = in.data<float>();
  float* dx = din.data<float>();
  double dot = 0;  // one sum in index order, on one thread: the same on every machine
  for (int64_t i = 0; i < in.numel(); ++i) {
    dot += static_cast<double>(dy[i]) * x[i];
    dx[i] = dy[i] * inv;  // after the read of dy[i]: din may alias dout
  }
  kernels::inverse_scale_grad(ds.data<float>(), dot, sv);
}

void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse) {
  const int64_t half = x.dim(2) / 2, t = x.dim(1);
  float* yp = y.data<float>();
  const float *xp = x.data<float>(), *tp = table.data<float>();
  for_elements(x.numel() / 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::rope_pair(yp, xp, tp, i, t, half, inverse);
  });
}

void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq) {
  const int64_t cols = x.dim(1);
  float* yp = y.data<float>();
  const float *xp = x.data<float>(), *fp = freq.data<float>();
  for_elements(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::sine_element(yp, xp, fp, i, cols);
  });
}

void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq) {
  const int64_t cols = x.dim(1);
  float *dxp = dx.data<float>(), *dfp = dfx.data<float>();
  const float *xp = x.data<float>(), *dyp = dy.data<float>(), *fp = freq.data<float>();
  for_elements(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) kernels::sine_backward_element(dxp, dfp, xp, dyp, fp, i, cols);
  });
}

void causal_mask(const Tensor& out, const Tensor& in) {
  const int64_t t = in.cols();
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* x = in.data<T>();
    for_elements(in.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) kernels::causal_mask_element(o, x, i, t);
    });
  });
}

}  // namespace cpu
}  // namespace sy
