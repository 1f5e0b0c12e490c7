// The MoE combine and the small elementwise ops on the GPU: one thread per output element (or per
// row for dots), each running the shared function of ops/shared/combine_math.h.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/combine_math.h"
#include "runtime/ops/shared/conv_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void combine_kernel(float* out, const float* y, const int32_t* pos, const float* w,
                               int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(t, rows * cols) {
    out[t] = kernels::combine_element(y, pos, w, t / cols, k, t % cols, cols);
  }
}

// dy rows are written once each (positions are distinct), so no atomics.
__global__ void combine_dy_kernel(float* dy, const float* dout, const int32_t* pos, const float* w,
                                  int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(t, rows * k * cols) {
    int64_t c = t % cols, sj = t / cols;
    int32_t p = pos[sj];
    if (p >= 0) dy[p * cols + c] = w[sj] * dout[(sj / k) * cols + c];
  }
}

__global__ void combine_dw_kernel(float* dw, const float* dout, const float* y, const int32_t* pos,
                                  int64_t rows, int k, int64_t cols) {
  SY_GRID_STRIDE(sj, rows * k) {
    int32_t p = pos[sj];
    dw[sj] = p < 0 ? 0.0f : kernels::dot_row(dout + (sj / k) * cols, y + p * cols, cols);
  }
}

__global__ void swiglu_kernel(float* out, const float* in, int64_t m, int64_t f) {
  SY_GRID_STRIDE(t, m * f) kernels::swiglu_element(out, in, t / f, t % f, f);
}

__global__ void swiglu_backward_kernel(float* din, const float* in, const float* dout, int64_t m,
                                       int64_t f) {
  SY_GRID_STRIDE(t, m * f) kernels::swiglu_backward_element(din, in, dout, t / f, t % f, f);
}

__global__ void add_bias_kernel(float* out, const float* b, int64_t rows, int64_t cols) {
  SY_GRID_STRIDE(t, rows * cols) out[t] += b[t % cols];
}

__global__ void add_scaled_kernel(float* out, const float* in, float alpha, int64_t n) {
  SY_GRID_STRIDE(t, n) out[t] += alpha * in[t];
}

__global__ void add_row_scaled_kernel(float* out, const float* x, const float* sc, int64_t rows,
                                      int64_t cols) {
  SY_GRID_STRIDE(t, rows * cols) out[t] += sc[t / cols] * x[t];
}

__global__ void row_dot_kernel(float* out, const float* a, const float* b, int64_t rows,
                               int64_t cols) {
  SY_GRID_STRIDE(r, rows) out[r] = kernels::dot_row(a + r * cols, b + r * cols, cols);
}

}  // namespace

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream) {
  int64_t rows = out.rows(), cols = out.cols();
  int k = static_cast<int>(pos.cols());
  SY_LAUNCH(combine_kernel, rows * cols, out.data<float>(), y.data<float>(), pos.data<int32_t>(),
            w.data<float>(), rows, k, cols);
}

void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w, Stream stream) {
  int64_t rows = dout.rows(), cols = dout.cols();
  int k = static_cast<int>(pos.cols());
  dy.fill(0.0, stream);
  SY_LAUNCH(combine_dy_kernel, rows * k * cols, dy.data<float>(), dout.data<float>(),
            pos.data<int32_t>(), w.data<float>(), rows, k, cols);
  if (dw.defined() && dw.numel())
    SY_LAUNCH(combine_dw_kernel, rows * k, dw.data<float>(), dout.data<float>(), y.data<float>(),
              pos.data<int32_t>(), rows, k, cols);
}

void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream) {
  SY_LAUNCH(swiglu_kernel, out.numel(), out.data<float>(), in.data<float>(), out.rows(),
            out.cols());
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream) {
  SY_LAUNCH(swiglu_backward_kernel, dout.numel(), din.data<float>(), in.data<float>(),
            dout.data<float>(), dout.rows(), dout.cols());
}

void add_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  SY_LAUNCH(add_bias_kernel, out.numel(), out.data<float>(), bias.data<float>(), out.rows(),
            out.cols());
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream) {
  SY_LAUNCH(add_scaled_kernel, out.numel(), out.data<float>(), in.data<float>(), alpha,
            out.numel());
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream) {
  SY_LAUNCH(add_row_scaled_kernel, out.numel(), out.data<float>(), x.data<float>(),
            scale.data<float>(), out.rows(), out.cols());
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  SY_LAUNCH(row_dot_kernel, a.rows(), out.data<float>(), a.data<float>(), b.data<float>(), a.rows(),
            a.cols());
}

}  // namespace cuda
}  // namespace sy

namespace sy {
namespace cuda {

namespace {

__global__ void mul_kernel(float* o, const float* a, const float* b, int64_t n) {
  SY_GRID_STRIDE(i, n) o[i] = a[i] * b[i];
}

__global__ void add_row_bias_kernel(float* o, const float* b, int64_t rows, int64_t cols) {
  SY_GRID_STRIDE(i, rows * cols) o[i] += b[i / cols];
}

__global__ void causal_mask_kernel(float* o, const float* x, int64_t rows, int64_t t) {
  SY_GRID_STRIDE(i, rows * t) {
    int64_t r = i / t, j = i % t;
    o[i] = j <= r % t ? x[i] : 0.0f;
  }
}

}  // namespace

void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  SY_LAUNCH(mul_kernel, out.numel(), out.data<float>(), a.data<float>(), b.data<float>(),
            out.numel());
}

void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  SY_LAUNCH(add_row_bias_kernel, out.numel(), out.data<float>(), bias.data<float>(), out.rows(),
            out.cols());
}

void causal_mask(const Tensor& out, const Tensor& in, Stream stream) {
  SY_LAUNCH(causal_mask_kernel, in.numel(), out.data<float>(), in.data<float>(), in.rows(),
            in.cols());
}

}  // namespace cuda
}  // namespace sy

namespace sy {
namespace cuda {

namespace {
__global__ void complex_mul_kernel(float* o_re, float* o_im, const float* a_re, const float* a_im,
                                   const float* b_re, const float* b_im, int64_t rows, int64_t n,
                                   int64_t period, bool conj_b) {
  SY_GRID_STRIDE(t, rows * n)
  kernels::complex_mul_element(o_re, o_im, a_re, a_im, b_re, b_im, t / n, t % n, n, period, conj_b);
}
}  // namespace

void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream) {
  SY_LAUNCH(complex_mul_kernel, a_re.numel(), out_re.data<float>(), out_im.data<float>(),
            a_re.data<float>(), a_im.data<float>(), b_re.data<float>(), b_im.data<float>(),
            a_re.rows(), a_re.cols(), b_re.rows(), conj_b);
}

}  // namespace cuda
}  // namespace sy

namespace sy {
namespace cuda {

namespace {
__global__ void dwconv_kernel(float* y, const float* x, const float* k, int64_t rows, int64_t len,
                              int64_t taps, int64_t c) {
  SY_GRID_STRIDE(i, rows * len)
  y[i] = kernels::dwconv_element(x, k, i / len, i % len, len, taps, c);
}
__global__ void dwconv_dx_kernel(float* dx, const float* dy, const float* k, int64_t rows,
                                 int64_t len, int64_t taps, int64_t c) {
  SY_GRID_STRIDE(i, rows * len)
  dx[i] = kernels::dwconv_dx_element(dy, k, i / len, i % len, len, taps, c);
}
__global__ void dwconv_dk_kernel(float* dk, const float* x, const float* dy, int64_t rows,
                                 int64_t len, int64_t taps, int64_t c) {
  SY_GRID_STRIDE(i, c * taps)
  dk[i] += kernels::dwconv_dk_element(x, dy, i / taps, i % taps, rows, len, c);
}
}  // namespace

void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k,
                                   Stream stream) {
  SY_LAUNCH(dwconv_kernel, x.numel(), y.data<float>(), x.data<float>(), k.data<float>(), x.rows(),
            x.cols(), k.cols(), k.rows());
}

void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream) {
  SY_LAUNCH(dwconv_dx_kernel, x.numel(), dx.data<float>(), dy.data<float>(), k.data<float>(),
            x.rows(), x.cols(), k.cols(), k.rows());
  SY_LAUNCH(dwconv_dk_kernel, k.numel(), dk.data<float>(), x.data<float>(), dy.data<float>(),
            x.rows(), x.cols(), k.cols(), k.rows());
}

}  // namespace cuda
}  // namespace sy
