// The M2 sequence mixer's ops: the short causal depthwise convolution and the complex
// pointwise product of the spectral long convolution, on the GPU.
// One thread per output element or row (grid-stride), each running the shared function of
// ops/shared/conv_math.h that the CPU oracle runs too.
#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/conv_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void complex_mul_kernel(float* o_re, float* o_im, const float* a_re, const float* a_im,
                                   const float* b_re, const float* b_im, int64_t rows, int64_t n,
                                   int64_t period, bool conj_b) {
  SY_GRID_STRIDE(t, rows * n)
  kernels::complex_mul_element(o_re, o_im, a_re, a_im, b_re, b_im, t / n, t % n, n, period, conj_b);
}

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
  launch(dwconv_kernel, x.numel(), stream, y.data<float>(), x.data<float>(), k.data<float>(),
         x.rows(), x.cols(), k.cols(), k.rows());
}

void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream) {
  launch(dwconv_dx_kernel, x.numel(), stream, dx.data<float>(), dy.data<float>(), k.data<float>(),
         x.rows(), x.cols(), k.cols(), k.rows());
  launch(dwconv_dk_kernel, k.numel(), stream, dk.data<float>(), x.data<float>(), dy.data<float>(),
         x.rows(), x.cols(), k.cols(), k.rows());
}

void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream) {
  launch(complex_mul_kernel, a_re.numel(), stream, out_re.data<float>(), out_im.data<float>(),
         a_re.data<float>(), a_im.data<float>(), b_re.data<float>(), b_im.data<float>(),
         a_re.rows(), a_re.cols(), b_re.rows(), conj_b);
}

}  // namespace cuda
}  // namespace sy
