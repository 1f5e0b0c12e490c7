// Elementwise ops: activations and SwiGLU with their backwards, casts, biases, scaled adds,
// products, the causal mask, on the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/elementwise_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/deterministic_sum.cuh"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/elementwise_math.h"

namespace sy {
namespace cuda {

namespace {

template <typename T>
__global__ void swiglu_kernel(T* out, const T* in, int64_t m, int64_t f) {
  SY_GRID_STRIDE(t, m * f) kernels::swiglu_element(out, in, t / f, t % f, f);
}

template <typename T>
__global__ void swiglu_backward_kernel(T* din, const T* in, const T* dout, int64_t m, int64_t f) {
  SY_GRID_STRIDE(t, m * f) kernels::swiglu_backward_element(din, in, dout, t / f, t % f, f);
}

template <typename T>
__global__ void add_bias_kernel(T* out, const float* b, int64_t n, int64_t cols) {
  SY_GRID_STRIDE(i, n) kernels::add_bias_element(out, b, i, cols);
}

__global__ void add_scaled_kernel(float* out, const float* in, float alpha, int64_t n) {
  SY_GRID_STRIDE(t, n) out[t] += alpha * in[t];
}

__global__ void add_row_scaled_kernel(float* out, const float* x, const float* sc, int64_t rows,
                                      int64_t cols) {
  SY_GRID_STRIDE(t, rows * cols) out[t] += sc[t / cols] * x[t];
}

__global__ void mul_kernel(float* o, const float* a, const float* b, int64_t n) {
  SY_GRID_STRIDE(i, n) o[i] = a[i] * b[i];
}

__global__ void add_row_bias_kernel(float* o, const float* b, int64_t rows, int64_t cols) {
  SY_GRID_STRIDE(i, rows * cols) o[i] += b[i / cols];
}

__global__ void scale_by_inverse_kernel(float* o, const float* x, const float* s, int64_t n) {
  const float inv = 1.0f / *s;
  SY_GRID_STRIDE(i, n) o[i] = x[i] * inv;
}

__global__ void inverse_scale_grad_kernel(float* ds, const double* dot, const float* s) {
  kernels::inverse_scale_grad(ds, *dot, *s);
}

__global__ void rope_kernel(float* y, const float* x, const float* table, int64_t pairs, int64_t t,
                            int64_t half, bool inverse) {
  SY_GRID_STRIDE(i, pairs) kernels::rope_pair(y, x, table, i, t, half, inverse);
}

__global__ void sine_kernel(float* y, const float* x, const float* f, int64_t n, int64_t cols) {
  SY_GRID_STRIDE(i, n) kernels::sine_element(y, x, f, i, cols);
}

__global__ void sine_backward_kernel(float* dx, float* dfx, const float* x, const float* dy,
                                     const float* f, int64_t n, int64_t cols) {
  SY_GRID_STRIDE(i, n) kernels::sine_backward_element(dx, dfx, x, dy, f, i, cols);
}

template <typename T>
__global__ void causal_mask_kernel(T* o, const T* x, int64_t n, int64_t t) {
  SY_GRID_STRIDE(i, n) kernels::causal_mask_element(o, x, i, t);
}

template <typename T, Activation A>
__global__ void act_forward_kernel(T* y, const T* x, int64_t n) {
  SY_GRID_STRIDE(i, n) kernels::activation_element<T, A>(y, x, i);
}

template <typename T, Activation A>
__global__ void bias_act_kernel(T* y, T* h, const float* b, int64_t n, int64_t cols) {
  SY_GRID_STRIDE(i, n) kernels::bias_activation_element<T, A>(y, h, b, i, cols);
}

template <typename T, Activation A>
__global__ void act_backward_kernel(T* dx, const T* x, const T* dy, int64_t n) {
  SY_GRID_STRIDE(i, n) kernels::activation_backward_element<T, A>(dx, x, dy, i);
}

__global__ void f32_to_bf16_kernel(bf16* y, const float* x, int64_t n) {
  SY_GRID_STRIDE(i, n) y[i] = float_to_bf16(x[i]);
}

__global__ void bf16_to_f32_kernel(float* y, const bf16* x, int64_t n) {
  SY_GRID_STRIDE(i, n) y[i] = bf16_to_float(x[i]);
}

__global__ void i32_to_f64_kernel(double* y, const int32_t* x, int64_t n) {
  SY_GRID_STRIDE(i, n) y[i] = x[i];
}

__global__ void scale_kernel(float* x, int64_t n, float alpha) {
  SY_GRID_STRIDE(i, n) x[i] *= alpha;
}

}  // namespace

void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream) {
  const int64_t n = in.numel();
  if (n == 0) return;
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::with_activation(act, [&](auto a) {
      launch(act_forward_kernel<T, decltype(a)::value>, n, stream, out.data<T>(), in.data<T>(), n);
    });
  });
}

void bias_activation_forward(const Tensor& out, const Tensor& h, const Tensor& bias, Activation act,
                             Stream stream) {
  const int64_t n = h.numel();
  if (n == 0) return;
  with_float_type(h.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::with_activation(act, [&](auto a) {
      launch(bias_act_kernel<T, decltype(a)::value>, n, stream, out.data<T>(), h.data<T>(),
             bias.data<float>(), n, h.cols());
    });
  });
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream) {
  const int64_t n = in.numel();
  if (n == 0) return;
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::with_activation(act, [&](auto a) {
      launch(act_backward_kernel<T, decltype(a)::value>, n, stream, din.data<T>(), in.data<T>(),
             dout.data<T>(), n);
    });
  });
}

void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream) {
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch(swiglu_kernel<T>, out.numel(), stream, out.data<T>(), in.data<T>(), out.rows(),
           out.cols());
  });
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream) {
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch(swiglu_backward_kernel<T>, dout.numel(), stream, din.data<T>(), in.data<T>(),
           dout.data<T>(), dout.rows(), dout.cols());
  });
}

void cast(const Tensor& out, const Tensor& in, Stream stream) {
  int64_t n = in.numel();
  if (n == 0) return;
  if (in.dtype() == out.dtype()) {
    backend(DeviceType::kCUDA).copy(out.raw(), in.raw(), in.nbytes(), stream);
  } else if (in.dtype() == DType::kI32) {
    launch(i32_to_f64_kernel, n, stream, out.data<double>(), in.data<int32_t>(), n);
  } else if (in.dtype() == DType::kF32) {
    launch(f32_to_bf16_kernel, n, stream, out.data<bf16>(), in.data<float>(), n);
  } else {
    launch(bf16_to_f32_kernel, n, stream, out.data<float>(), in.data<bf16>(), n);
  }
}

void add_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  if (out.numel() == 0) return;
  with_float_type(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch(add_bias_kernel<T>, out.numel(), stream, out.data<T>(), bias.data<float>(), out.numel(),
           out.cols());
  });
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream) {
  launch(add_scaled_kernel, out.numel(), stream, out.data<float>(), in.data<float>(), alpha,
         out.numel());
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream) {
  launch(add_row_scaled_kernel, out.numel(), stream, out.data<float>(), x.data<float>(),
         scale.data<float>(), out.rows(), out.cols());
}

void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  launch(add_row_bias_kernel, out.numel(), stream, out.data<float>(), bias.data<float>(),
         out.rows(), out.cols());
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  launch(mul_kernel, out.numel(), stream, out.data<float>(), a.data<float>(), b.data<float>(),
         out.numel());
}

void scale_inplace(const Tensor& x, float alpha, Stream stream) {
  int64_t n = x.numel();
  if (n == 0) return;
  launch(scale_kernel, n, stream, x.data<float>(), n, alpha);
}

void scale_by_inverse(const Tensor& out, const Tensor& in, const Tensor& s, Stream stream) {
  if (in.numel() == 0) return;
  launch(scale_by_inverse_kernel, in.numel(), stream, out.data<float>(), in.data<float>(),
         s.data<float>(), in.numel());
}

// ds first (Σ dout·in needs dout before din overwrites it when they alias), then din.
void scale_by_inverse_backward(const Tensor& din, const Tensor& ds, const Tensor& dout,
                               const Tensor& in, const Tensor& s, Stream stream) {
  Tensor dot = Tensor::empty({1}, DType::kF64, in.device());
  dot.record_stream(stream);  // freed on return, used by the kernels queued on `stream`
  device_dot(dot.data<double>(), dout.data<float>(), in.data<float>(), in.numel(), stream);
  inverse_scale_grad_kernel<<<1, 1, 0, to_cuda(stream)>>>(ds.data<float>(), dot.data<double>(),
                                                          s.data<float>());
  SY_CUDA_CHECK(cudaGetLastError());
  cuda::scale_by_inverse(din, dout, s, stream);
}

void rope(const Tensor& y, const Tensor& x, const Tensor& table, bool inverse, Stream stream) {
  const int64_t pairs = x.numel() / 2;
  if (pairs == 0) return;
  launch(rope_kernel, pairs, stream, y.data<float>(), x.data<float>(), table.data<float>(), pairs,
         x.dim(1), x.dim(2) / 2, inverse);
}

void sine_forward(const Tensor& y, const Tensor& x, const Tensor& freq, Stream stream) {
  if (x.numel() == 0) return;
  launch(sine_kernel, x.numel(), stream, y.data<float>(), x.data<float>(), freq.data<float>(),
         x.numel(), x.dim(1));
}

void sine_backward(const Tensor& dx, const Tensor& dfx, const Tensor& x, const Tensor& dy,
                   const Tensor& freq, Stream stream) {
  if (x.numel() == 0) return;
  launch(sine_backward_kernel, x.numel(), stream, dx.data<float>(), dfx.data<float>(),
         x.data<float>(), dy.data<float>(), freq.data<float>(), x.numel(), x.dim(1));
}

void causal_mask(const Tensor& out, const Tensor& in, Stream stream) {
  with_float_type(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch(causal_mask_kernel<T>, in.numel(), stream, out.data<T>(), in.data<T>(), in.numel(),
           in.cols());
  });
}

}  // namespace cuda
}  // namespace sy
